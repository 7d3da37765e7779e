// `npm run bench:cluster`: three Parley nodes (127.0.0.2–4, each its own
// process) on one redis-server behind Kamailio (examples/kamailio/parley-cluster.cfg),
// SIPp callers through Kamailio. Measures, with short runs:
// - setup time (INVITE → 200 at the caller) when the INVITE reaches the room's
//   owner first (a Kamailio whose dispatcher lists only the owner) and when it is
//   redirected (a Kamailio without the Redis lookup that lists only another node: 302, then the owner);
// - the share of INVITEs that reach the owner first through the Kamailio of the
//   README (room owner read from Redis with ndb_redis, else round robin over all nodes);
// - Redis commands per call (INFO commandstats delta, less the idle heartbeat rate);
// - rooms with more than one owner after bursts of 20 simultaneous INVITEs per new room (must be 0);
// - calls lost when a node drains with calls up and joins coming (must be 0);
// - failover: kill -9 of a room's owner until a new caller gets the room elsewhere.
// Writes bench/results/cluster.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { RedisLink } from '../src/cluster/redis-link.ts';
import { createLogger } from '../src/util/logger.ts';
import { call } from '../test/helpers/api-client.ts';
import { startClusterNode, WebhookReceiver, type ClusterTestNode } from '../test/helpers/cluster-nodes.ts';
import { startKamailioCluster } from '../test/helpers/kamailio-cluster.ts';
import type { RunningKamailio } from '../test/helpers/kamailio.ts';
import { TestRedis } from '../test/helpers/redis-server.ts';
import { RtpPeer } from '../test/helpers/rtp-peer.ts';
import { sippCounts, startSipp, type SippRun } from '../test/helpers/sipp.ts';

const root = resolve(new URL('..', import.meta.url).pathname);
const SCENARIO = join(root, 'test/e2e/scenarios/caller-conf-rr.xml');
const CALLS = Number(process.env.BENCH_CLUSTER_CALLS ?? 20);
const BURST_ROOMS = Number(process.env.BENCH_CLUSTER_BURST_ROOMS ?? 5);
const rooms = ['anchor', 'drainroom', 'drainnew', 'failover', ...Array.from({ length: BURST_ROOMS }, (_, i) => `burst${i}`)];
const yaml = `routing:
  rules:
${rooms.map((r) => `    - { name: ${r}, match: { method: INVITE, requestUri: "sip:${r}@*" }, actions: [{ app: ${r} }] }`).join('\n')}
flows:
${rooms.map((r) => `  ${r}: [{ conference: { room: ${r} } }]`).join('\n')}
`;
const log = createLogger({ level: 'warn', pretty: false });
const peers: RtpPeer[] = [];

async function dial(kam: RunningKamailio, room: string, o: { calls?: number; rate?: number; holdMs?: number; user?: string } = {}): Promise<{ done: Promise<SippRun>; kill(): void }> {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start({ kind: 'silence' });
  peers.push(rtp);
  const s = await startSipp({
    scenario: SCENARIO,
    transport: 'udp',
    remote: `127.0.0.1:${kam.port}`,
    calls: o.calls ?? 1,
    rate: o.rate,
    timeoutS: 60,
    extra: ['-key', 'to_uri', `sip:${room}@127.0.0.1:${kam.port}`, '-key', 'rtpport', String(rtp.port), '-key', 'from_user', o.user ?? room, '-d', String(o.holdMs ?? 300), '-l', String(o.calls ?? 1), '-trace_rtt', '-rtt_freq', '1'],
  });
  return s;
}

/** Response times (ms) from SIPp's -trace_rtt CSV. */
function rtts(run: SippRun): number[] {
  return run.rtt.split('\n').slice(1).map((l) => Number(l.split(';')[1])).filter((n) => Number.isFinite(n) && n > 0);
}

function stats(xs: number[]): { n: number; medianMs: number | null; p95Ms: number | null } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number | null => (s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10 : null);
  return { n: s.length, medianMs: at(0.5), p95Ms: at(0.95) };
}

async function localRooms(nodes: ClusterTestNode[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const n of nodes) {
    if (n.proc.child.exitCode !== null || n.proc.child.signalCode !== null) continue;
    // A node that drained may exit between the check and the request.
    const res = await fetch(`${n.api}/rooms`, { headers: { authorization: 'Bearer test-token-0123456789abcdef', 'x-parley-forwarded': '1' } }).catch(() => null);
    if (!res) continue;
    for (const r of (await res.json()) as Array<{ name: string }>) out.set(r.name, [...(out.get(r.name) ?? []), n.id]);
  }
  return out;
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const redirectsLogged = (nodes: ClusterTestNode[]): number => nodes.reduce((a, n) => a + n.proc.lines.filter((l) => l.msg === 'redirected to the room owner').length, 0);

const loadBefore = loadavg();
const redis = await TestRedis.start();
const hooks = await WebhookReceiver.start();
const nodes = await Promise.all(['n2', 'n3', 'n4'].map((id, i) => startClusterNode(id, `127.0.0.${i + 2}`, redis.url, hooks.url, yaml))).catch(async (err: unknown) => {
  await hooks.stop();
  await redis.stop();
  throw err;
});
const kams: RunningKamailio[] = [];
const spy = new RedisLink(redis.url, log, 'bench');
await spy.connect();
const commands = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await spy.client.info('stats'))?.[1] ?? 0);
try {
  const rr = await startKamailioCluster(nodes.map((n) => `${n.host}:${n.sipPort}`), { redis: `${redis.host}:${redis.port}` });
  kams.push(rr);
  await new Promise((r) => setTimeout(r, 1500));

  // Idle rate of Redis commands (heartbeats, lease renewals, reaper sweeps; the bench's own INFO calls).
  const idle0 = await commands();
  const idleStart = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const idlePerMs = ((await commands()) - idle0) / (Date.now() - idleStart);

  // A room held open by one long call: its owner is then known.
  const anchor = await dial(rr, 'anchor', { holdMs: 120_000, user: 'anchor-hold' });
  const ownerId = await until(async () => (await localRooms(nodes)).get('anchor')?.[0], 15_000);
  const owner = nodes.find((n) => n.id === ownerId)!;
  const other = nodes.find((n) => n.id !== ownerId)!;
  const toOwner = await startKamailioCluster([`${owner.host}:${owner.sipPort}`]);
  const toOther = await startKamailioCluster([`${other.host}:${other.sipPort}`]);
  kams.push(toOwner, toOther);
  await new Promise((r) => setTimeout(r, 1500));

  const local = await (await dial(toOwner, 'anchor', { calls: CALLS, rate: 10, user: 'local' })).done;
  const rd0 = redirectsLogged(nodes);
  const redirected = await (await dial(toOther, 'anchor', { calls: CALLS, rate: 10, user: 'redir' })).done;
  const redirectedCount = redirectsLogged(nodes) - rd0;

  // Round robin: the share that reaches the owner first; Redis commands per call.
  const r0 = redirectsLogged(nodes);
  const c0 = await commands();
  const t0 = Date.now();
  const straight0 = (rr.log().match(/straight to the room owner/g) ?? []).length;
  const roundRobin = await (await dial(rr, 'anchor', { calls: CALLS, rate: 10, user: 'rr' })).done;
  const straight = (rr.log().match(/straight to the room owner/g) ?? []).length - straight0;
  const rrCalls = sippCounts(roundRobin.stdout);
  const opsDelta = (await commands()) - c0 - idlePerMs * (Date.now() - t0);
  const rrRedirects = redirectsLogged(nodes) - r0;

  // Bursts: 20 simultaneous INVITEs per new room, the rooms at once.
  const bursts = await Promise.all(Array.from({ length: BURST_ROOMS }, async (_, i) => dial(rr, `burst${i}`, { calls: 20, rate: 1000, holdMs: 2500, user: `b${i}` })));
  await new Promise((r) => setTimeout(r, 1500));
  const during = await localRooms(nodes);
  const multiOwner = Array.from({ length: BURST_ROOMS }, (_, i) => during.get(`burst${i}`) ?? []).filter((o) => o.length > 1).length;
  const burstRuns = await Promise.all(bursts.map((b) => b.done));
  const burstCalls = burstRuns.map((r) => sippCounts(r.stdout)).reduce((a, c) => ({ ok: a.ok + c.ok, failed: a.failed + c.failed }), { ok: 0, failed: 0 });

  // Failover first (it needs a live third node), then the drain.
  const fo = await dial(rr, 'failover', { holdMs: 60_000, user: 'fo-hold' });
  const foOwnerId = await until(async () => (await localRooms(nodes)).get('failover')?.[0], 15_000);
  const foOwner = nodes.find((n) => n.id === foOwnerId)!;
  foOwner.proc.child.kill('SIGKILL');
  const killedAt = Date.now();
  fo.kill();
  let failoverMs: number | null = null;
  let attempts = 0;
  while (Date.now() - killedAt < 20_000) {
    attempts++;
    const run = await (await dial(rr, 'failover', { holdMs: 200, user: 'fo-new' })).done;
    if (run.code === 0) {
      failoverMs = Date.now() - killedAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  // Drain a live node with calls up in its room and joins coming; new rooms go elsewhere.
  const liveNodes = nodes.filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);
  const upFirst = await dial(rr, 'drainroom', { calls: 10, rate: 20, holdMs: 5000, user: 'd-up' });
  const dOwnerId = await until(async () => (await localRooms(liveNodes)).get('drainroom')?.[0], 15_000);
  const dOwner = nodes.find((n) => n.id === dOwnerId)!;
  await new Promise((r) => setTimeout(r, 1000));
  await call(dOwner.api, 'POST', '/admin/drain');
  const joins = await dial(rr, 'drainroom', { calls: 10, rate: 20, holdMs: 1000, user: 'd-join' });
  const fresh = await dial(rr, 'drainnew', { calls: 10, rate: 20, holdMs: 1000, user: 'd-new' });
  const [upRun, joinRun, freshRun] = await Promise.all([upFirst.done, joins.done, fresh.done]);
  const freshOwners = (await localRooms(liveNodes)).get('drainnew') ?? [];
  const drainExit = await new Promise<number | null>((r) => {
    if (dOwner.proc.child.exitCode !== null) r(dOwner.proc.child.exitCode);
    dOwner.proc.child.once('exit', (code) => r(code));
    setTimeout(() => r(null), 15_000);
  });
  const up = sippCounts(upRun.stdout);
  const jn = sippCounts(joinRun.stdout);
  const fr = sippCounts(freshRun.stdout);
  anchor.kill();

  const result = {
    bench: 'bench:cluster',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    settings: { nodes: 3, callsPerPhase: CALLS, burstRooms: BURST_ROOMS, heartbeatMs: 300, nodeTtlMs: 1200, leaseMs: 1500 },
    // INVITE → 200 at the caller, through Kamailio; `redirects`: 302s the nodes sent in the redirected phase (one per call).
    setup: { local: stats(rtts(local)), redirected: { ...stats(rtts(redirected)), redirects: redirectedCount }, localFailed: sippCounts(local.stdout).failed, redirectedFailed: sippCounts(redirected.stdout).failed },
    // `straightFromRedis`: INVITEs Kamailio sent to the owner it read from Redis.
    roundRobin: { calls: rrCalls, redirected: rrRedirects, straightFromRedis: straight, shareReachingOwnerFirst: rrCalls.ok ? Math.round((1 - rrRedirects / rrCalls.ok) * 1000) / 1000 : null },
    redis: { idleCommandsPerSecond: Math.round(idlePerMs * 1000 * 10) / 10, commandsPerCall: rrCalls.ok ? Math.round((opsDelta / rrCalls.ok) * 10) / 10 : null },
    bursts: {
      rooms: BURST_ROOMS,
      invitesPerRoom: 20,
      calls: burstCalls,
      roomsWithMoreThanOneOwner: multiOwner,
      // A SIPp run that printed no statistics counts -1: its exit code and last words say why.
      runs: burstRuns.map((r) => ({ code: r.code, ...sippCounts(r.stdout), ...(sippCounts(r.stdout).ok < 0 ? { tail: (r.errors || r.stdout).slice(-300) } : {}) })),
    },
    failover: { killedNode: foOwnerId, failoverMs, attempts },
    drain: { node: dOwnerId, callsUp: up, joinsDuringDrain: jn, newRoomCalls: fr, newRoomOnDrainingNode: freshOwners.includes(dOwnerId), callsLost: up.failed + jn.failed, exitCode: drainExit },
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/cluster.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} finally {
  spy.close();
  for (const p of peers) await p.close().catch(() => undefined);
  for (const n of nodes) if (n.proc.child.exitCode === null) n.proc.child.kill('SIGKILL');
  for (const k of kams) await k.stop();
  await hooks.stop();
  await redis.stop();
}
