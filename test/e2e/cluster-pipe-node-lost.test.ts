// A pipe whose other node dies (kill -9): each node ends its own pipes to a
// lost node, whichever survivor reaps it. The room's owner killed: the caller
// piped in from another node gets a BYE (Reason: Q.850 41 "room owner lost"), and its recording
// is saved (its own RTP goes on, so no media timeout would end it). The piped
// caller's node killed: its leg leaves the owner's roster, and the room closes
// (lease and owner key gone) when its last local member hangs up.
// Two nodes on 127.0.0.2 and .3 per case (short cluster timings: a node is
// silent 1.2 s after its last heartbeat), one redis-server, SIPp callers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { call } from '../helpers/api-client.ts';
import { dialNode, startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

const yaml = `routing:
  rules:
    - { name: direct, match: { method: INVITE, requestUri: "sip:lost@*" }, actions: [{ app: direct }] }
    - { name: ivr, match: { method: INVITE, requestUri: "sip:ivr@*" }, actions: [{ app: ivr }] }
flows:
  direct: [{ conference: { room: lost } }]
  ivr: [answer, { record: { action: start } }, { conference: { room: lost } }]
`;

interface RosterItem {
  leg: string;
  remoteNode: string | null;
}

/** Node TTL (1.2 s) and a heartbeat, a probe refused at once, a BYE: well within this. */
const LOST_BOUND_MS = 6000;

describe('cluster: pipes to a node killed with kill -9 end on the node that survives (e2e)', { timeout: 90_000 }, () => {
  let redis: TestRedis;
  let hooks: WebhookReceiver;
  let spy: Redis;
  const nodes: ClusterTestNode[] = [];
  const track: CallerTrack = { peers: [], kills: [] };

  const pair = async (n: number): Promise<[ClusterTestNode, ClusterTestNode]> => {
    const [a, b] = await Promise.all([startClusterNode(`na${n}`, '127.0.0.2', redis.url, hooks.url, yaml), startClusterNode(`nb${n}`, '127.0.0.3', redis.url, hooks.url, yaml)]);
    nodes.push(a, b);
    return [a, b];
  };
  const roster = async (b: ClusterTestNode): Promise<RosterItem[] | null> => {
    const r = await call(b.api, 'GET', '/rooms/lost');
    return r.status === 404 ? null : (r.body as { roster: RosterItem[] }).roster;
  };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    spy = new Redis(redis.url, { lazyConnect: true });
    await spy.connect();
  });

  after(async () => {
    await stopCallersAndNodes(track, nodes);
    spy?.disconnect();
    await hooks?.stop();
    await redis?.stop();
  });

  it('the room owner killed: the caller piped in from the other node gets a BYE (with a Reason) within the bound, its recording is saved', async () => {
    const [a, b] = await pair(1);
    await dialNode(b, { to: 'lost', from: 'inroom1', tone: 660, holdMs: 60_000 }, track);
    await waitFor('room lost on B', async () => ((await roster(b)) ?? undefined)?.length === 1 || undefined, 15_000);
    const piped = await dialNode(a, { to: 'ivr', from: 'piped1', tone: 440, holdMs: 0, scenario: 'caller-wait-bye.xml', extra: ['-trace_msg'] }, track);
    await waitFor('piped caller on B\'s roster', async () => (await roster(b))?.find((e) => e.remoteNode === 'na1'), 15_000);
    const aCall = ((await call(a.api, 'GET', '/calls')).body as Array<{ id: string; node: string }>).find((c) => c.node === 'na1');
    assert.ok(aCall, 'the piped call is on A');
    b.proc.child.kill('SIGKILL');
    const killedAt = Date.now();
    const byeOrTimeout = await Promise.race([piped.done.then((r) => r), new Promise<null>((r) => setTimeout(() => r(null), LOST_BOUND_MS))]);
    assert.ok(byeOrTimeout, `the piped caller got no BYE within ${LOST_BOUND_MS} ms of its room owner's kill -9`);
    assert.equal(byeOrTimeout.code, 0, `the piped caller got a BYE: ${byeOrTimeout.errors || byeOrTimeout.stdout.slice(-400)}`);
    // Its BYE says why, as a media timeout's would.
    assert.match(byeOrTimeout.messages, /^BYE sip:[^]*?^Reason: Q\.850;cause=41;text="room owner lost"/m);
    await a.proc.logged(/pipes to a lost node ended/, 1000);
    const calls = (await call(a.api, 'GET', '/calls')).body as Array<{ id: string }>;
    assert.ok(!calls.some((c) => c.id === aCall.id), `the call is gone from A's list ${Date.now() - killedAt} ms after the kill`);
    await waitFor('recording.saved of the piped call on A', () => hooks.deliveries.find((d) => d.event.type === 'recording.saved' && d.event.node === 'na1'), 10_000);
  });

  it('the piped caller\'s node killed: its leg leaves the owner\'s roster within the bound; the room closes when its last member hangs up', async () => {
    const [a, b] = await pair(2);
    const local = await dialNode(b, { to: 'lost', from: 'inroom2', tone: 660, holdMs: 12_000 }, track);
    await waitFor('room lost on B', async () => ((await roster(b)) ?? undefined)?.length === 1 || undefined, 15_000);
    await dialNode(a, { to: 'ivr', from: 'piped2', tone: 440, holdMs: 60_000 }, track);
    await waitFor('piped caller on B\'s roster', async () => (await roster(b))?.find((e) => e.remoteNode === 'na2'), 15_000);
    a.proc.child.kill('SIGKILL');
    await waitFor('the piped leg off B\'s roster', async () => ((await roster(b))?.some((e) => e.remoteNode === 'na2') === false ? true : undefined), LOST_BOUND_MS);
    assert.deepEqual((await roster(b))?.map((e) => e.remoteNode), [null], 'the local member stays');
    assert.equal((await local.done).code, 0);
    await waitFor('room lost closed on B, its lease and owner key gone', async () => ((await roster(b)) === null && (await spy.get('parley:room:lost')) === null && (await spy.get('parley:owner:lost')) === null ? true : undefined), 5000);
  });
});
