// Three Parley nodes (127.0.0.2–4, each its own process) behind a real Kamailio
// (the room owner read from Redis with ndb_redis, else dispatcher with OPTIONS
// probes, 503 → next node, 302 → room owner through uac_redirect), one real
// redis-server, SIPp callers with Node RTP peers: callers to one room meet on
// its owner and hear each other, the ones after the first sent straight there
// (no 302); without the Redis lookup the 302 still brings them there; 20 simultaneous
// INVITEs for a new room make one owner; a Redis restart heals; a draining node
// takes no new room, keeps its room and exits cleanly; a kill -9 of a node:
// its calls are reported ended (node-lost) once, the next caller to its room
// gets a room on another node, and no webhook is lost or duplicated.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { call } from '../helpers/api-client.ts';
import { startClusterNode, WebhookReceiver, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { startKamailioCluster, type RunningKamailioCluster } from '../helpers/kamailio-cluster.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { sippCounts, startSipp, type SippRun } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS } from './helpers.ts';

const ROOMS = ['meet', 'burst', 'healed', 'keep', 'fresh', 'doomed'];
const yaml = `routing:
  rules:
${ROOMS.map((r) => `    - { name: ${r}, match: { method: INVITE, requestUri: "sip:${r}@*" }, actions: [{ app: ${r} }] }`).join('\n')}
flows:
${ROOMS.map((r) => `  ${r}: [{ conference: { room: ${r} } }]`).join('\n')}
`;

interface Caller {
  rtp: RtpPeer;
  done: Promise<SippRun>;
  kill(): void;
}

/** Median share of a tone over 250 ms windows (a lost frame does not count as not heard). */
function share(pcm: Int16Array, hz: number): number {
  const v: number[] = [];
  for (let s = 0; s + 2000 <= pcm.length; s += 2000) v.push(purity(pcm, 8000, hz, s, 2000));
  v.sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : 0;
}

describe('cluster: three nodes, Kamailio, Redis (e2e)', { timeout: 170_000 }, () => {
  let redis: TestRedis;
  let kam: RunningKamailioCluster;
  let hooks: WebhookReceiver;
  const nodes: ClusterTestNode[] = [];
  const callers: Caller[] = [];
  const byId = (id: string): ClusterTestNode => nodes.find((n) => n.id === id)!;
  const live = (): ClusterTestNode[] => nodes.filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);

  const dial = async (room: string, opts: { tone?: number; holdMs?: number; calls?: number; rate?: number; user?: string } = {}): Promise<Caller> => {
    const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    rtp.start(opts.tone ? { kind: 'tone', freq: opts.tone, amplitude: 8000 } : { kind: 'silence' });
    const s = await startSipp({
      scenario: `${SCENARIOS}/caller-conf-rr.xml`,
      transport: 'udp',
      remote: `127.0.0.1:${kam.port}`,
      calls: opts.calls ?? 1,
      rate: opts.rate,
      timeoutS: 60,
      extra: ['-key', 'to_uri', `sip:${room}@127.0.0.1:${kam.port}`, '-key', 'rtpport', String(rtp.port), '-key', 'from_user', opts.user ?? room, '-d', String(opts.holdMs ?? 3000), '-l', String(opts.calls ?? 1)],
    });
    const c = { rtp, done: s.done, kill: s.kill };
    callers.push(c);
    return c;
  };

  /** Each live node's own rooms (not merged): name → node ids. */
  const owners = async (): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>();
    for (const n of live()) {
      // A node that drained may exit between the check and the request.
      const res = await fetch(`${n.api}/rooms`, { headers: { authorization: 'Bearer test-token-0123456789abcdef', 'x-parley-forwarded': '1' } }).catch(() => null);
      if (!res) continue;
      for (const r of (await res.json()) as Array<{ name: string }>) out.set(r.name, [...(out.get(r.name) ?? []), n.id]);
    }
    return out;
  };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    const started = await Promise.all(['n2', 'n3', 'n4'].map((id, i) => startClusterNode(id, `127.0.0.${i + 2}`, redis.url, hooks.url, yaml)));
    nodes.push(...started);
    kam = await startKamailioCluster(nodes.map((n) => `${n.host}:${n.sipPort}`), { redis: `${redis.host}:${redis.port}` });
    // Kamailio's first OPTIONS round (ds_ping_interval 1 s): every node answered its probe (was a fixed 1.5 s).
    await waitFor('every node answered a Kamailio probe', async () => {
      const ds = await kam.destinations();
      return ds.length === nodes.length && ds.every((d) => d.flags === 'AP') ? true : undefined;
    }, 10_000);
  });

  after(async () => {
    for (const c of callers) {
      c.kill();
      await c.rtp.close().catch(() => undefined);
    }
    for (const n of nodes) if (n.proc.child.exitCode === null) n.proc.child.kill('SIGKILL');
    await kam?.stop();
    await hooks?.stop();
    await redis?.stop();
  });

  it('every node is registered and the API on any node lists all three', async () => {
    const res = await call(nodes[0]!.api, 'GET', '/cluster/nodes');
    assert.equal(res.status, 200);
    assert.deepEqual((res.body as Array<{ id: string; state: string }>).map((n) => `${n.id}:${n.state}`).sort(), ['n2:serving', 'n3:serving', 'n4:serving']);
  });

  const redirects = (): number => nodes.reduce((a, n) => a + n.proc.lines.filter((l) => l.msg === 'redirected to the room owner').length, 0);

  it('callers to one room all meet on its owner (Kamailio reads the owner from Redis: no 302) and hear each other', async () => {
    const tones = [440, 660, 880];
    const cs: Caller[] = [];
    const redirectsBefore = redirects();
    cs.push(await dial('meet', { tone: tones[0], holdMs: 9000, user: 'meet0' }));
    // The first caller makes the room: its owner is then in Redis for Kamailio.
    await waitFor('room meet open', async () => ((await call(nodes[0]!.api, 'GET', '/rooms')).body as Array<{ name: string }>).some((r) => r.name === 'meet') || undefined, 15_000);
    for (const [i, hz] of tones.entries()) if (i > 0) cs.push(await dial('meet', { tone: hz, holdMs: 9000, user: `meet${i}` }));
    const o = await waitFor('three legs in room meet', async () => {
      const all = (await call(nodes[1]!.api, 'GET', '/rooms')).body as Array<{ name: string; node: string; roster: unknown[] }>;
      const meet = all.filter((r) => r.name === 'meet');
      return meet.length === 1 && meet[0]!.roster.length === 3 ? meet[0] : undefined;
    }, 20_000);
    assert.deepEqual((await owners()).get('meet'), [o.node], 'one owner');
    const owner = byId(o.node);
    const straight = kam.log().match(/INVITE sip:meet@\S+ straight to the room owner (\S+) \(from redis\)/g) ?? [];
    assert.equal(straight.length, 2, `the two callers after the first went straight to the owner: ${straight.join(' | ')}`);
    for (const line of straight) assert.ok(line.includes(`sip:${owner.host}:${owner.sipPort}`), line);
    assert.equal(redirects() - redirectsBefore, 0, 'no node answered 302');
    assert.doesNotMatch(kam.log(), /following 302 to the room owner/);
    // The safety net: a Kamailio without the Redis lookup that knows only another node gets there by its 302.
    const other0 = nodes.find((n) => n.id !== o.node)!;
    const plain = await startKamailioCluster([`${other0.host}:${other0.sipPort}`]);
    try {
      const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
      rtp.start({ kind: 'silence' });
      const s302 = await startSipp({
        scenario: `${SCENARIOS}/caller-conf-rr.xml`,
        transport: 'udp',
        remote: `127.0.0.1:${plain.port}`,
        calls: 1,
        timeoutS: 30,
        extra: ['-key', 'to_uri', `sip:meet@127.0.0.1:${plain.port}`, '-key', 'rtpport', String(rtp.port), '-key', 'from_user', 'meet-302', '-d', '500', '-l', '1'],
      });
      callers.push({ rtp, done: s302.done, kill: s302.kill });
      assert.equal((await s302.done).code, 0);
      assert.match(plain.log(), /following 302 to the room owner/);
      assert.equal(redirects() - redirectsBefore, 1, 'one 302, from the node that does not own the room');
    } finally {
      await plain.stop();
    }
    // The merged call list names each call's node: all on the owner.
    const calls = (await call(nodes[2]!.api, 'GET', '/calls')).body as Array<{ node: string; flow: string }>;
    assert.deepEqual(calls.filter((c) => c.flow === 'meet').map((c) => c.node), [o.node, o.node, o.node]);
    // An action sent to another node is forwarded to the owner: a leg muted there shows muted on the owner.
    const other = nodes.find((n) => n.id !== o.node)!;
    const roster = (await call(other.api, 'GET', '/rooms/meet')).body as { roster: Array<{ leg: string; muted: boolean }> };
    const leg = roster.roster[0]!.leg;
    assert.equal((await call(other.api, 'POST', `/rooms/meet/legs/${encodeURIComponent(leg)}/mute`)).status, 200);
    const onOwner = (await call(byId(o.node).api, 'GET', '/rooms/meet')).body as { roster: Array<{ leg: string; muted: boolean }> };
    assert.equal(onOwner.roster.find((e) => e.leg === leg)?.muted, true);
    assert.equal((await call(other.api, 'POST', `/rooms/meet/legs/${encodeURIComponent(leg)}/unmute`)).status, 200);
    // Audio: each caller hears the two others, judged over 2 s (100 packets) from 200 ms (10 packets)
    // after the unmute was answered (applied then; heardAfter's margin), as packets come, not after a fixed 1.5 s.
    const marks = cs.map((c) => c.rtp.received.length + 10);
    await waitFor('2 s of audio at each caller', () => cs.every((c, i) => c.rtp.received.length >= marks[i]! + 100) || undefined, 15_000);
    cs.forEach((c, i) => {
      const pcm = c.rtp.decoded(marks[i]);
      for (const [j, hz] of tones.entries()) {
        if (j === i) continue;
        assert.ok(share(pcm, hz) > 0.05, `caller ${i} hears ${hz} Hz (share ${share(pcm, hz).toFixed(3)})`);
      }
    });
    for (const c of cs) {
      const run = await c.done;
      assert.equal(run.code, 0, run.errors || run.stdout.slice(-800));
    }
  });

  it('20 simultaneous INVITEs for a new room: exactly one owner, all 20 answered there', async () => {
    const c = await dial('burst', { calls: 20, rate: 1000, holdMs: 4000 });
    const room = await waitFor('20 legs in burst', async () => {
      const all = (await call(nodes[0]!.api, 'GET', '/rooms')).body as Array<{ name: string; node: string; roster: unknown[] }>;
      const burst = all.filter((r) => r.name === 'burst');
      assert.ok(burst.length <= 1, `room burst on ${burst.map((b) => b.node).join(', ')}`);
      return burst[0]?.roster.length === 20 ? burst[0] : undefined;
    }, 30_000);
    assert.deepEqual((await owners()).get('burst'), [room.node]);
    const run = await c.done;
    assert.deepEqual(sippCounts(run.stdout), { ok: 20, failed: 0 });
  });

  it('a Redis restart heals: a call up meanwhile goes on, nodes re-register and new rooms work again', async () => {
    const during = await dial('meet', { holdMs: 4000, user: 'during' });
    await waitFor('the call up', async () => ((await call(nodes[0]!.api, 'GET', '/rooms')).body as Array<{ name: string }>).some((r) => r.name === 'meet') || undefined, 10_000);
    await redis.restart();
    await waitFor('all three registered again', async () => {
      const res = await call(nodes[0]!.api, 'GET', '/cluster/nodes').catch(() => null);
      return res?.status === 200 && (res.body as unknown[]).length === 3 ? true : undefined;
    }, 10_000);
    const c = await dial('healed', { holdMs: 500 });
    assert.equal((await c.done).code, 0);
    assert.equal((await during.done).code, 0, 'the call up during the restart was not cut');
    // The room held through the restart got its lease back, with the same epoch.
    const o = await owners();
    assert.equal(o.get('meet')?.length ?? 0, 0, 'the room closed with its last call');
  });

  it('a draining node keeps its room, takes no new room, and exits cleanly when its calls end', async () => {
    const first = await dial('keep', { holdMs: 6000, user: 'keep-a' });
    const ownerId = await waitFor('room keep', async () => [...((await owners()).get('keep') ?? [])][0], 15_000);
    const owner = byId(ownerId);
    const res = await call(owner.api, 'POST', '/admin/drain');
    assert.equal(res.status, 202);
    await waitFor('draining in the registry', async () => {
      const ns = (await call(nodes.find((n) => n !== owner)!.api, 'GET', '/cluster/nodes')).body as Array<{ id: string; state: string }>;
      return ns.find((n) => n.id === ownerId)?.state === 'draining' ? true : undefined;
    }, 5000);
    // Its room still takes joins (through a 302 from the others, or straight).
    const second = await dial('keep', { holdMs: 1500, user: 'keep-b' });
    // New rooms go elsewhere, whichever node Kamailio tries first.
    const fresh = await dial('fresh', { holdMs: 1500 });
    assert.equal((await second.done).code, 0);
    assert.equal((await fresh.done).code, 0);
    const o = await owners();
    assert.ok(!(o.get('fresh') ?? []).includes(ownerId), 'no new room on the draining node');
    assert.equal((await first.done).code, 0, 'the call on the draining node was not cut');
    const [code] = (await once(owner.proc.child, 'exit')) as [number | null];
    assert.equal(code, 0, 'the drained node exits cleanly');
  });

  it('kill -9 of a node: its calls are reported ended once, its room moves, no webhook is lost or duplicated', async () => {
    // Webhooks fail for a while, so that deliveries are pending on every node when one dies.
    hooks.failing = true;
    const doomed = await dial('doomed', { holdMs: 30_000, user: 'doomed-a' });
    const ownerId = await waitFor('room doomed', async () => [...((await owners()).get('doomed') ?? [])][0], 15_000);
    const owner = byId(ownerId);
    // A short call on the same node ends while the receiver fails: its call.ended is pending on the node that dies.
    const short = await dial('doomed', { holdMs: 300, user: 'doomed-z' });
    assert.equal((await short.done).code, 0);
    await owner.proc.logged(/webhook failed; retrying/, 5000);
    const victimCall = await waitFor('the call on the owner', async () => {
      const cs = (await call(owner.api, 'GET', '/calls')).body as Array<{ id: string; node: string; flow: string }>;
      return cs.find((c) => c.flow === 'doomed' && c.node === ownerId)?.id;
    }, 5000);
    owner.proc.child.kill('SIGKILL');
    await once(owner.proc.child, 'exit');
    doomed.kill();
    const killedAt = Date.now();
    // A new caller to the room: retried (as a phone would) until a live node answers. How soon is the
    // machine's speed (the node's TTL, then Redis); the minute is only a guard against a hang.
    let moved = false;
    while (!moved && Date.now() - killedAt < 60_000) {
      const c = await dial('doomed', { holdMs: 300, user: 'doomed-b' });
      moved = (await c.done).code === 0;
      if (!moved) await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(moved, `a new caller got the room on a live node (tried for ${Date.now() - killedAt} ms)`);
    hooks.failing = false;
    const lost = await waitFor('node-lost call.ended', () => {
      const d = hooks.callEnded(victimCall);
      return d.length > 0 ? d : undefined;
    }, 15_000);
    assert.equal(lost[0]!.event.data.reason, 'node-lost');
    assert.equal(lost[0]!.event.data.lostNode, ownerId);
    assert.notEqual(lost[0]!.event.node, ownerId);
    // The dead node's pending call.ended (the short call) was taken over and delivered by a survivor.
    const shortEnded = await waitFor('the short call reported', () => {
      const d = hooks.deliveries.filter((x) => x.event.type === 'call.ended' && x.event.node === ownerId && x.event.data.flow === 'doomed');
      return d.length > 0 ? d : undefined;
    }, 10_000);
    assert.equal(shortEnded.length, 1);
    assert.ok(live().some((n) => n.proc.lines.some((l) => /took over a lost node's pending webhooks/.test(String(l.msg)))), 'a survivor took the journal over');
    // Every call of the whole test ended with exactly one call.ended delivered (the drained node's too).
    await new Promise((r) => setTimeout(r, 2000));
    const ids = new Set(hooks.deliveries.map((d) => d.delivery));
    const dup = hooks.deliveries.filter((d, i) => hooks.deliveries.findIndex((x) => x.delivery === d.delivery) !== i);
    assert.equal(ids.size, hooks.deliveries.length, `no delivery twice: ${JSON.stringify(dup)}`);
    const perCall = new Map<string, number>();
    for (const d of hooks.deliveries) {
      if (d.event.type !== 'call.ended') continue;
      const id = String(d.event.data.callId);
      perCall.set(id, (perCall.get(id) ?? 0) + 1);
    }
    const twice = [...perCall].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], `no call reported ended twice: ${JSON.stringify(hooks.deliveries.filter((d) => twice.some(([id]) => d.event.data.callId === id)).map((d) => [d.delivery, d.event]))}`);
    // 3 (meet) + 1 (meet through a 302) + 20 (burst) + 1 (during) + 1 (healed) + 2 (keep) + 1 (fresh) + 2 (doomed: the short call, the node-lost one) + the callers after the kill.
    const flows = hooks.deliveries.filter((d) => d.event.type === 'call.ended').map((d) => `${String(d.event.data.flow)}@${d.event.node}`).sort();
    assert.ok(perCall.size >= 32, `call.ended for every call (${perCall.size}: ${flows.join(' ')})`);
  });
});
