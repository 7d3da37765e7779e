// Which other node holds a consultation call (remoteConsultation): the node Redis names first,
// then every other node at once; real HTTP servers on loopback stand in for the nodes.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ClusterNode } from '../../../src/cluster/cluster-node.ts';
import type { NodeEntry } from '../../../src/cluster/node-registry.ts';
import { remoteConsultation } from '../../../src/cluster/remote-consultation.ts';
import { silentLogger } from '../../../src/util/logger.ts';

interface FakeNode {
  entry: NodeEntry;
  /** Requests received and not answered yet. */
  open: number;
  server: http.Server;
}

/** A node whose POST /cluster/consultation answers `status` with `body`, or never (null). */
async function fakeNode(id: string, status: number | null, body: unknown = {}): Promise<FakeNode> {
  const node = { open: 0 } as FakeNode;
  node.server = http.createServer((req, res) => {
    node.open++;
    req.resume();
    res.on('close', () => node.open--);
    if (status === null) return; // never answers: the asker times out
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => node.server.listen(0, '127.0.0.1', r));
  const { port } = node.server.address() as AddressInfo;
  node.entry = { id, state: 'serving', sip: `127.0.0.1:${5060 + port}`, api: `http://127.0.0.1:${port}`, load: { calls: 0, rooms: 0 }, at: Date.now() };
  return node;
}

function clusterOf(self: string, nodes: FakeNode[], owner: string | null): ClusterNode {
  const entries = new Map(nodes.map((n) => [n.entry.id, n.entry]));
  return { nodeId: self, registry: { nodes: async () => entries, callOwner: async () => owner } } as unknown as ClusterNode;
}

describe('remoteConsultation: which node holds the dialog', () => {
  const servers: http.Server[] = [];
  after(() => {
    for (const s of servers) s.closeAllConnections?.();
    for (const s of servers) s.close();
  });
  const id = { callId: 'consult-1', toTag: 'a', fromTag: 'b' };

  it('asks the nodes Redis does not name all at once: the holder answers while the silent ones are still being waited for', async () => {
    const silent1 = await fakeNode('n1', null);
    const silent2 = await fakeNode('n2', null);
    const holder = await fakeNode('n3', 200, { uri: 'sip:sup@127.0.0.1:5070', replaces: 'x;to-tag=1;from-tag=2' });
    servers.push(silent1.server, silent2.server, holder.server);
    const found = await remoteConsultation(clusterOf('self', [silent1, silent2, holder], null), 'token', id, silentLogger());
    assert.ok(found && 'uri' in found, JSON.stringify(found));
    assert.equal(found.uri, 'sip:sup@127.0.0.1:5070');
    // Asked one after the other, each silent node would have been given up on (aborted) first.
    assert.equal(silent1.open + silent2.open, 2, 'both silent nodes were asked and are still being waited for');
  });

  it('the node Redis names is asked first, alone: when it holds the call, no other node is asked', async () => {
    const other = await fakeNode('o1', 404);
    const owner = await fakeNode('o2', 403, { message: 'not a connected two-party bridge' });
    servers.push(other.server, owner.server);
    let asked = 0;
    other.server.on('request', () => asked++);
    const found = await remoteConsultation(clusterOf('self', [other, owner], 'o2'), 'token', id, silentLogger());
    assert.deepEqual(found, { refused: 'not a connected two-party bridge' });
    assert.equal(asked, 0);
  });

  it('no node holds it (404 from each, itself left out): null', async () => {
    const a = await fakeNode('a', 404);
    const b = await fakeNode('b', 404);
    servers.push(a.server, b.server);
    assert.equal(await remoteConsultation(clusterOf('a', [a, b], 'a'), 'token', id, silentLogger()), null);
  });
});
