// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A browser session's own requests (/webrtc/:sessionId…) answered by any node
// of a cluster: the session lives on the node that owns its room, its POST may
// have come through another, and its follow-ups (behind a load balancer) through
// a third. Three nodes on 127.0.0.2–4, one redis-server; HTTP only (no browser:
// the routing is what is tested, the session's media is webrtc-browser's).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/api-client.ts';
import { startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';

describe('cluster: a browser session is reachable through every node (e2e)', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  let hooks: WebhookReceiver;
  const nodes: ClusterTestNode[] = [];
  const track: CallerTrack = { peers: [], kills: [] };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    nodes.push(
      ...(await Promise.all([
        startClusterNode('wa', '127.0.0.2', redis.url, hooks.url, ''),
        startClusterNode('wb', '127.0.0.3', redis.url, hooks.url, ''),
        startClusterNode('wc', '127.0.0.4', redis.url, hooks.url, ''),
      ])),
    );
  });

  after(async () => {
    await stopCallersAndNodes(track, nodes);
    await hooks?.stop();
    await redis?.stop();
  });

  it('opened through A in a room B owns, the session answers at C (neither owner nor forwarder): GET, DELETE', async () => {
    const [a, b, c] = nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
    assert.equal((await call(b.api, 'POST', '/rooms', { name: 'webroom3' })).status, 201);
    const created = await call(a.api, 'POST', '/rooms/webroom3/webrtc', { role: 'participant' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { sessionId: string }).sessionId;
    assert.equal((await call(b.api, 'GET', `/webrtc/${id}`)).status, 200, 'the session lives on B');
    const onC = await call(c.api, 'GET', `/webrtc/${id}`);
    assert.equal(onC.status, 200, `the session through C: ${JSON.stringify(onC.body)}`);
    assert.equal((onC.body as { room?: string }).room, 'webroom3');
    assert.equal((await call(c.api, 'DELETE', `/webrtc/${id}`)).status, 200, 'closed through C');
    assert.equal((await call(b.api, 'GET', `/webrtc/${id}`)).status, 404, 'closed on B');
    assert.equal((await call(a.api, 'GET', `/webrtc/${id}`)).status, 404);
    assert.equal((await call(c.api, 'GET', `/webrtc/${id}`)).status, 404);
    await call(b.api, 'DELETE', '/rooms/webroom3');
  });

  it('an unknown session id, or one naming a node that is not live, is a 404 on any node', async () => {
    const [a, , c] = nodes as [ClusterTestNode, ClusterTestNode, ClusterTestNode];
    assert.equal((await call(c.api, 'GET', '/webrtc/nosuchsession')).status, 404);
    assert.equal((await call(a.api, 'GET', '/webrtc/gone~AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
  });
});
