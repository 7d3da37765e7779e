// A node cut off from Redis (a TCP proxy between it and redis-server, cut for
// longer than its node TTL and its leases), while its calls go on:
// - the other node probes it (GET /cluster/alive) and does not report it lost;
// - the cut node takes no new join for a room whose lease it could not renew (503);
// - a room of the cut node whose lease lapsed can be taken by the other node; when
//   the cut node is back it gives that lease up (its own calls in its old room go
//   on until they end, new INVITEs to it for the room are redirected to the new
//   owner), and re-creates with the same epoch the lease of a room nobody took,
//   which takes joins again;
// - every call is reported ended exactly once, by its own node, none as node-lost,
//   also a call that ended during the cut (its webhook from the node's own spool).
// Two nodes on 127.0.0.2 and .3, one redis-server, SIPp callers straight to each node.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { call } from '../helpers/api-client.ts';
import { dialNode, startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import type { SippRun } from '../helpers/sipp.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

const yaml = `routing:
  rules:
    - { name: cut, match: { method: INVITE, requestUri: "sip:cut@*" }, actions: [{ app: cut }] }
    - { name: solo, match: { method: INVITE, requestUri: "sip:solo@*" }, actions: [{ app: solo }] }
    - { name: ivrcut, match: { method: INVITE, requestUri: "sip:ivrcut@*" }, actions: [{ app: ivrcut }] }
flows:
  cut: [{ conference: { room: cut } }]
  ivrcut: [answer, { conference: { room: cut } }]
  solo: [{ conference: { room: solo } }]
`;

describe('cluster: a node cut off from Redis is not reported lost, and gives up or re-takes its leases (e2e)', { timeout: 150_000 }, () => {
  let redis: TestRedis;
  let proxy: TcpProxy;
  let hooks: WebhookReceiver;
  let spy: Redis;
  let a: ClusterTestNode;
  let b: ClusterTestNode;
  const track: CallerTrack = { peers: [], kills: [] };

  const dial = (node: ClusterTestNode, room: string, holdMs: number, user: string, scenario?: string): Promise<{ done: Promise<SippRun> }> =>
    dialNode(node, { to: room, from: user, holdMs, scenario }, track);
  const roster = async (node: ClusterTestNode, room: string): Promise<number> => {
    const res = await fetch(`${node.api}/rooms/${room}`, { headers: { authorization: 'Bearer test-token-0123456789abcdef', 'x-parley-forwarded': '1' } });
    return res.status === 200 ? ((await res.json()) as { roster: unknown[] }).roster.length : 0;
  };

  before(async () => {
    redis = await TestRedis.start();
    proxy = await TcpProxy.start(redis.host, redis.port);
    hooks = await WebhookReceiver.start();
    spy = new Redis(redis.url, { lazyConnect: true });
    await spy.connect();
    [a, b] = await Promise.all([
      startClusterNode('na', '127.0.0.2', proxy.url, hooks.url, yaml),
      startClusterNode('nb', '127.0.0.3', redis.url, hooks.url, yaml),
    ]);
  });

  after(async () => {
    await stopCallersAndNodes(track, [a, b]);
    spy?.disconnect();
    await hooks?.stop();
    await proxy?.stop();
    await redis?.stop();
  });

  it('calls go on, nothing is reported lost, leases are given up or re-taken', async () => {
    // Two rooms on A, each with a long call; a short call in one of them ends during the cut.
    const longCut = await dial(a, 'cut', 16_000, 'long-cut');
    const longSolo = await dial(a, 'solo', 16_000, 'long-solo');
    await waitFor('both rooms on A', async () => ((await roster(a, 'cut')) === 1 && (await roster(a, 'solo')) === 1 ? true : undefined), 15_000);
    const short = await dial(a, 'solo', 3000, 'short-solo');
    await waitFor('short call in solo', async () => ((await roster(a, 'solo')) === 2 ? true : undefined), 10_000);
    const soloLease = await spy.get('parley:room:solo');
    const cutLease = await spy.get('parley:room:cut');
    assert.match(soloLease ?? '', /^na \d+$/);
    assert.match(cutLease ?? '', /^na \d+$/);

    proxy.cut();
    const cutAt = Date.now();
    // B finds A silent in Redis, asks A itself, and does not report it lost.
    await b.proc.logged(/node silent in redis but its API answers: not reported lost/, 10_000);
    await a.proc.logged(/redis lost/, 5000);
    // Past the lease: A's leases are not trusted any more; a new join to A's room is refused (503).
    await new Promise((r) => setTimeout(r, Math.max(0, 1500 + 300 - (Date.now() - cutAt))));
    const refused = await dial(a, 'solo', 0, 'refused', 'caller-conf-expect-503.xml');
    assert.equal((await refused.done).code, 0, 'a join to a room whose lease A could not renew is refused with 503');
    assert.ok(a.proc.lines.some((l) => l.msg === 'new room refused' && l.reason === 'Room Lease Not Renewed'));
    // B takes room cut (its lease lapsed in Redis); room solo is left alone.
    const onB = await dial(b, 'cut', 9000, 'b-cut');
    await waitFor('room cut on B', async () => ((await roster(b, 'cut')) === 1 ? true : undefined), 10_000);
    const bLease = await spy.get('parley:room:cut');
    assert.match(bLease ?? '', /^nb \d+$/);
    assert.ok(Number(bLease!.split(' ')[1]) > Number(cutLease!.split(' ')[1]), 'a new epoch');
    assert.equal((await short.done).code, 0, 'the short call on A ended normally during the cut');
    assert.ok(Date.now() - cutAt > 2500, 'cut for longer than the node TTL and the lease');
    assert.equal(hooks.deliveries.filter((d) => d.event.data.reason === 'node-lost').length, 0, 'nothing reported lost during the cut');
    // B's API still lists A's calls (asked of A directly) and forwards actions on them to A.
    const listed = (await call(b.api, 'GET', '/calls')).body as Array<{ id: string; node: string; flow: string }>;
    const aCalls = listed.filter((c) => c.node === 'na');
    assert.deepEqual(aCalls.map((c) => c.flow).sort(), ['cut', 'solo'], `A's two long calls listed by B: ${JSON.stringify(listed)}`);
    const one = (await call(b.api, 'GET', `/calls/${encodeURIComponent(aCalls[0]!.id)}`));
    assert.equal(one.status, 200, 'an action on A\'s call through B is forwarded to A');

    proxy.restore();
    // A re-creates the lease of solo with its epoch and gives up cut's.
    await a.proc.logged(/room taken by another node while this node could not renew its lease/, 10_000);
    await a.proc.logged(/room lease had lapsed \(redis outage or restart\); re-created with its epoch/, 5000);
    assert.equal(await spy.get('parley:room:solo'), soloLease, 'solo re-created with the same epoch');
    await b.proc.logged(/node registered again after being silent in redis/, 5000);
    // solo takes joins on A again; an INVITE to A for cut is redirected to B, the new owner.
    const again = await dial(a, 'solo', 500, 'again-solo');
    assert.equal((await again.done).code, 0, 'A takes joins to solo again');
    const redirected = await dial(a, 'cut', 0, 'to-b', 'caller-expect-302.xml');
    assert.equal((await redirected.done).code, 0, 'A redirects an INVITE for cut to B');
    const redirect = await a.proc.logged(/redirecting the INVITE to the room owner/, 5000);
    assert.equal(redirect.owner, 'nb');
    assert.match(String(redirect.contact), new RegExp(`@${b.host.replaceAll('.', '\\.')}:${b.sipPort}$`));
    // A caller answered on A (an IVR first) joins cut on B through a pipe, not A's old room.
    const ivr = await dial(a, 'ivrcut', 1500, 'ivr-cut');
    await a.proc.logged(/joined a room on another node through a pipe/, 10_000);
    assert.equal((await ivr.done).code, 0);
    // A's long calls were never cut: they end when their callers hang up.
    assert.equal(await roster(a, 'cut'), 1, 'the call in A\'s old room cut goes on');
    assert.equal((await longCut.done).code, 0);
    assert.equal((await longSolo.done).code, 0);
    assert.equal((await onB.done).code, 0);

    // Webhooks: each call ended once, by its own node, none lost, none as node-lost.
    const calls = { na: 5, nb: 1 }; // A: long-cut, long-solo, short-solo, again-solo, ivr-cut; B: b-cut
    await waitFor('every call.ended', () => (hooks.deliveries.filter((d) => d.event.type === 'call.ended').length >= calls.na + calls.nb ? true : undefined), 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const ended = hooks.deliveries.filter((d) => d.event.type === 'call.ended');
    assert.equal(new Set(hooks.deliveries.map((d) => d.delivery)).size, hooks.deliveries.length, 'no delivery twice');
    assert.equal(new Set(ended.map((d) => d.event.data.callId)).size, ended.length, 'no call reported ended twice');
    assert.deepEqual(ended.map((d) => d.event.node).sort(), ['na', 'na', 'na', 'na', 'na', 'nb']);
    assert.equal(ended.filter((d) => d.event.data.reason === 'node-lost').length, 0);
    // Both nodes registered.
    const nodes = (await call(b.api, 'GET', '/cluster/nodes')).body as Array<{ id: string }>;
    assert.deepEqual(nodes.map((n) => n.id).sort(), ['na', 'nb']);
  });
});
