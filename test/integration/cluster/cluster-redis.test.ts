// The cluster's Redis side against a real redis-server: room leases (one owner
// among concurrent claims, compare-and-delete, epochs), the node registry (entry
// with expiry, call hash, re-registration after a Redis restart), the INVITE
// gate's decisions, and the reaper reporting a dead node's calls once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keys } from '../../../src/cluster/cluster-keys.ts';
import { ClusterNode, RoomOwnedElsewhereError } from '../../../src/cluster/cluster-node.ts';
import type { WebhookSink } from '../../../src/cluster/cluster-webhooks.ts';
import type { ClusterCallRecord } from '../../../src/cluster/node-registry.ts';
import { LeaseNotRenewedError } from '../../../src/cluster/room-leases.ts';
import { RedisLink } from '../../../src/cluster/redis-link.ts';
import type { FlowsConfig } from '../../../src/call/flow-types.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { TestRedis } from '../../helpers/redis-server.ts';
import { waitFor } from '../../helpers/wait.ts';

const flows: FlowsConfig = {
  room: [{ record: { action: 'start' } }, { conference: { room: 'r1' } }],
  other: [{ conference: { room: 'r2' } }],
  plain: [{ answer: null }, { hangup: null }],
};

describe('cluster on a real Redis', () => {
  let redis: TestRedis;
  let spy: RedisLink;
  const nodes: ClusterNode[] = [];
  const lost: Array<{ by: string; node: string; calls: ClusterCallRecord[] }> = [];
  const cap = captureLog('debug');

  const makeNode = async (id: string, port: number): Promise<ClusterNode> => {
    const n = new ClusterNode(
      { nodeId: id, sipAddress: `127.0.0.1:${port}`, apiAddress: `http://127.0.0.1:${port + 1}`, redisUrl: redis.url, heartbeatMs: 100, nodeTtlMs: 400, leaseMs: 600 },
      () => ({ calls: 0, rooms: 0 }),
      cap.log.child({ node: id }),
    );
    n.on('nodelost', (node, calls) => lost.push({ by: id, node, calls }));
    await n.start();
    nodes.push(n);
    return n;
  };

  before(async () => {
    redis = await TestRedis.start();
    spy = new RedisLink(redis.url, cap.log, 'spy');
    await spy.connect();
  });

  after(async () => {
    for (const n of nodes) n.close();
    spy.close();
    await redis.stop();
  });

  it('registers each node with an expiring entry', async () => {
    const a = await makeNode('a', 5060);
    await makeNode('b', 5070);
    await makeNode('c', 5080);
    const entries = await a.registry.nodes();
    assert.deepEqual([...entries.keys()].sort(), ['a', 'b', 'c']);
    assert.equal(entries.get('b')?.sip, '127.0.0.1:5070');
    assert.equal(entries.get('b')?.state, 'serving');
    const ttl = await spy.client.pttl(keys.node('a'));
    assert.ok(ttl > 0 && ttl <= 400, `entry expiry ${ttl}`);
  });

  it('20 concurrent claims of a new room across three nodes make exactly one owner', async () => {
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => nodes[i % 3]!.leases.claim('burst')));
    const owners = new Set(claims.map((l) => l.owner));
    assert.equal(owners.size, 1);
    const epochs = new Set(claims.map((l) => l.epoch));
    assert.equal(epochs.size, 1);
    const owner = nodes.find((n) => n.nodeId === claims[0]!.owner)!;
    const holders = claims.filter((_, i) => nodes[i % 3] === owner).length;
    assert.equal(owner.leases.rooms.get('burst')?.holders, holders);
    for (let i = 0; i < holders; i++) owner.leases.release('burst');
    await waitFor('the lease deleted', async () => (await spy.client.exists(keys.room('burst'))) === 0, 3000);
  });

  it('a lease is renewed by its owner and deleted only by it; a new claim gets a higher epoch', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const first = await a.leases.claim('r-renew');
    assert.equal(first.owner, 'a');
    // Outlives its 600 ms expiry through renewals.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await b.leases.claim('r-renew')).owner, 'a');
    // b cannot delete a's lease (b holds nothing; compare-and-delete on a foreign value does nothing).
    b.leases.release('r-renew');
    assert.equal(await spy.client.get(keys.room('r-renew')), `a ${first.epoch}`);
    // Kamailio's plain companion key: the owner's SIP address, with the lease's expiry.
    assert.equal(await spy.client.get(keys.owner('r-renew')), '127.0.0.1:5060');
    const ttl = await spy.client.pttl(keys.owner('r-renew'));
    assert.ok(ttl > 0 && ttl <= 600, `owner key expiry ${ttl}`);
    await assert.rejects(b.acquireRoom('r-renew'), RoomOwnedElsewhereError);
    a.leases.release('r-renew');
    await waitFor('released', async () => (await spy.client.exists(keys.room('r-renew'))) === 0, 3000);
    assert.equal(await spy.client.exists(keys.owner('r-renew')), 0, 'deleted with the lease');
    const second = await b.leases.claim('r-renew');
    assert.equal(second.owner, 'b');
    assert.ok(second.epoch > first.epoch);
    b.leases.release('r-renew');
  });

  it('the gate: local for the owner, 302 to the owner elsewhere, 503 while draining for a new room, plain calls untouched', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const here = await a.gate.decide(flows, 'room', 'sip:conf@10.0.0.1');
    assert.equal(here.kind, 'local');
    const there = await b.gate.decide(flows, 'room', 'sip:conf@10.0.0.1');
    assert.deepEqual(there.kind === 'redirect' && [there.owner, there.contact], ['a', 'sip:conf@127.0.0.1:5060']);
    const plain = await b.gate.decide(flows, 'plain', 'sip:x@y');
    assert.equal(plain.kind === 'local' && plain.room, null);
    a.drain();
    // Its own room still takes joins; a new room is refused so the proxy tries another node.
    const join = await a.gate.decide(flows, 'room', 'sip:conf@10.0.0.1');
    assert.equal(join.kind === 'local' && join.exemptFromDrain, true);
    const fresh = await a.gate.decide(flows, 'other', 'sip:x@10.0.0.1');
    assert.equal(fresh.kind, 'refuse');
    await waitFor('draining in the registry', async () => (await a.registry.entry('a'))?.state === 'draining', 3000);
    if (here.kind === 'local') here.release();
    if (join.kind === 'local') join.release();
    a.registry.state = 'serving';
  });

  it('a Redis restart: rooms stay, new claims fail meanwhile, nodes re-register and held leases come back with their epoch', async () => {
    const [a] = nodes as [ClusterNode];
    const lease = await a.leases.claim('r-keep');
    a.callStarted({ callId: 'call-1', flow: 'room', from: 'sip:x@y', to: 'sip:z@y', startedAt: new Date().toISOString(), room: 'r-keep' });
    await redis.kill();
    await waitFor('link down', () => !a.link.isUp, 5000);
    await assert.rejects(a.leases.claim('r-new'), /unreachable/);
    assert.equal(a.leases.local('r-keep')?.epoch, lease.epoch);
    // Past leaseMs without a renewal the held lease is not trusted: no new join, the room stays.
    await waitFor('lease not trusted', () => !a.leases.holds('r-keep'), 3000);
    await assert.rejects(a.leases.claim('r-keep'), LeaseNotRenewedError);
    assert.equal(a.holdsRoom('r-keep'), false);
    await redis.restart();
    await waitFor('re-registered', async () => (await spy.client.smembers(keys.nodes).catch(() => [])).length === 3, 8000);
    await waitFor('lease back', async () => (await spy.client.get(keys.room('r-keep')).catch(() => null)) === `a ${lease.epoch}`, 8000);
    assert.ok(Number(await spy.client.get(keys.epoch)) >= lease.epoch, 'the epoch counter is kept above held epochs');
    assert.ok(await spy.client.hexists(keys.nodeCalls('a'), 'call-1'), 'the call hash is written again');
    assert.ok(cap.find(/re-created/).length > 0);
    assert.equal(a.leases.holds('r-keep'), true, 'trusted again once renewed');
    assert.equal(await spy.client.get(keys.owner('r-keep')), '127.0.0.1:5060');
    const next = await nodes[1]!.leases.claim('r-after');
    assert.ok(next.epoch > lease.epoch);
    a.leases.release('r-keep');
    nodes[1]!.leases.release('r-after');
  });

  it('a node that stops refreshing is reaped once: its calls are reported ended by one survivor', async () => {
    const [a] = nodes as [ClusterNode];
    a.callStarted({ callId: 'call-2', flow: 'plain', from: 'sip:x@y', to: 'sip:z@y', startedAt: new Date().toISOString() });
    lost.length = 0;
    a.close(); // as kill -9: no deregistration, the entry expires
    await waitFor('reaped', () => lost.length > 0, 5000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lost.length, 1, 'one survivor reports');
    assert.equal(lost[0]!.node, 'a');
    assert.deepEqual(lost[0]!.calls.map((c) => c.callId).sort(), ['call-1', 'call-2']);
    assert.deepEqual((await spy.client.smembers(keys.nodes)).sort(), ['b', 'c']);
    assert.equal(await spy.client.exists(keys.nodeCalls('a')), 0);
  });

  it('a clean stop lets a webhook delivery in flight finish and settle: no journal entry is left for a survivor to send again', async () => {
    const w = await makeNode('w', 5090);
    // The receiver takes the delivery; its answer comes 400 ms later, as the node stops.
    let inFlight = 0;
    const sink: WebhookSink = {
      wants: () => true,
      handle: (_e, journaled) => {
        inFlight++;
        setTimeout(() => {
          inFlight--;
          journaled?.settled();
        }, 400);
      },
      busy: () => inFlight > 0,
    };
    const publish = w.attachWebhooks(sink);
    // The stop starts at once: the event's journal write is not even answered yet.
    publish({ type: 'call.ended', seq: 1, at: new Date().toISOString(), data: { callId: 'c-w' } });
    await w.leave();
    assert.equal(inFlight, 0, 'the stop waited for the delivery');
    assert.equal(await spy.client.hlen(keys.nodeWebhooks('w')), 0, 'its journal entry deleted before the node left');
    w.close();
  });

  it('a clean stop does not wait for a delivery that is waiting to retry: it stays journaled for a survivor', async () => {
    const v = await makeNode('v', 5100);
    let handled = 0;
    // The receiver is down: the delivery failed and waits for its next attempt (not busy).
    // The stop asks the sender whether a delivery is in flight: counted while it stops.
    let busyAsked = 0;
    let stopping = false;
    const sink: WebhookSink = {
      wants: () => true,
      handle: () => void handled++,
      busy: () => {
        if (stopping) busyAsked++;
        return false;
      },
    };
    const publish = v.attachWebhooks(sink);
    publish({ type: 'call.ended', seq: 1, at: new Date().toISOString(), data: { callId: 'c-v' } });
    await waitFor('handed to the sender', () => handled > 0, 5000);
    stopping = true;
    await v.leave();
    // Not a wall-clock limit: the stop asked once, heard "not busy" and went on, where waiting
    // out its 5.5 s bound for the retry would have asked again every 10 ms.
    assert.equal(busyAsked, 1, `the stop asked the sender ${busyAsked} times whether it was busy`);
    assert.equal(await spy.client.hlen(keys.nodeWebhooks('v')), 1, 'left journaled');
    assert.ok((await spy.client.smembers(keys.nodes)).includes('v'), 'the node stays listed, so that a survivor takes its journal over');
    v.close();
  });
});
