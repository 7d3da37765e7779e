// Runs in the serial stage (scripts/run-tests.sh): it kills cluster nodes with kill -9 while other cluster files (127.0.0.2–4, Redis) would run beside it; in this session's last CI, cluster-webrtc-routes failed right after it there.
// A pipe whose other node dies (kill -9): each node ends its own pipes to a
// lost node, whichever survivor reaps it. The room's owner killed: the caller
// piped in from another node gets a BYE (Reason: Q.850 41 "room owner lost"), and its recording
// is saved (its own RTP goes on, so no media timeout would end it). The piped
// caller's node killed: its leg leaves the owner's roster, and the room closes
// (lease and owner key gone) when its last local member hangs up.
// The owner killed while the pipe is set up (no answer to its offer) ends the call the
// same way. Two nodes on 127.0.0.2 and .3 per case (short cluster timings: a node is
// silent 1.2 s after its last heartbeat), one redis-server, SIPp callers.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

// The describe's timeout is a guard against a hang, not a limit: each case starts its own node processes
// (tsx start-up, over 10 s each on a loaded machine); under two CPU hogs the three cases took 90 s.
describe('cluster: pipes to a node killed with kill -9 end on the node that survives (e2e)', { timeout: 300_000 }, () => {
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
    // On B's roster from the start of B's part of the set-up: killed before A has B's answer, the
    // pipe was never up (the next case). This case kills B once the pipe is up.
    await a.proc.logged(/joined a room on another node through a pipe/, 15_000);
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

  it('the room owner killed while the pipe is set up (its offer unanswered): the caller gets a BYE with the same Reason, not a 500', async () => {
    // The owner stands in for a node killed in the middle of the pipe's set-up (the race of a
    // kill -9 right after the caller shows on its roster): it owns the room in Redis, and its API
    // drops every connection unanswered, as a killed process's are.
    const asked: string[] = [];
    const dead = http.createServer((req) => {
      asked.push(`${req.method} ${req.url}`);
      req.socket.destroy();
    });
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    try {
      const api = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
      await spy.set('parley:node:nx3', JSON.stringify({ id: 'nx3', state: 'serving', sip: '127.0.0.9:5060', api, load: { calls: 0, rooms: 1 }, at: Date.now() }), 'PX', 60_000);
      await spy.set('parley:node:nx3:addr', JSON.stringify({ sip: '127.0.0.9:5060', api, run: 'dead' }));
      await spy.set('parley:room:lost', 'nx3 1', 'PX', 60_000);
      await spy.set('parley:owner:lost', '127.0.0.9:5060', 'PX', 60_000);
      const a = await startClusterNode('na3', '127.0.0.2', redis.url, hooks.url, yaml);
      nodes.push(a);
      const piped = await dialNode(a, { to: 'ivr', from: 'piped3', tone: 440, holdMs: 0, scenario: 'caller-wait-bye.xml', extra: ['-trace_msg'] }, track);
      const run = await piped.done;
      assert.ok(asked.includes('POST /cluster/pipes'), `the pipe was offered to the owner (${asked.join(', ')})`);
      assert.equal(run.code, 0, `the piped caller got a BYE: ${run.errors || run.stdout.slice(-400)}`);
      assert.match(run.messages, /^BYE sip:[^]*?^Reason: Q\.850;cause=41;text="room owner lost"/m);
      await waitFor('the call gone from A', async () => (((await call(a.api, 'GET', '/calls')).body as unknown[]).length === 0 ? true : undefined), 5000);
    } finally {
      dead.closeAllConnections();
      await new Promise((r) => dead.close(r));
      await spy.del('parley:node:nx3', 'parley:node:nx3:addr', 'parley:room:lost', 'parley:owner:lost');
    }
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
