// The in-process control link: a pair of net.Sockets with no kernel socket behind them.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { LocalSocket } from '../../../src/sip/control/local-socket.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('LocalSocket', () => {
  it('is a net.Socket that reports the addresses it was given and connects in a later tick', async () => {
    const [client, server] = LocalSocket.pair({ address: '127.0.0.1', port: 9022 }, { address: '127.0.0.2', port: 0 });
    assert.ok(client instanceof net.Socket);
    let connected = false;
    client.on('connect', () => (connected = true));
    assert.equal(connected, false, 'not inside pair()');
    await tick();
    assert.equal(connected, true);
    assert.equal(client.remoteAddress, '127.0.0.1');
    assert.equal(client.remotePort, 9022);
    assert.equal(server.remoteAddress, '127.0.0.2');
    // What drachtio-srf does to a socket it dials.
    client.setNoDelay(true);
    client.setKeepAlive(true);
    client.destroy();
  });

  it('carries bytes both ways in order, never inside the writer\'s call', async () => {
    const [client, server] = LocalSocket.pair({ address: '127.0.0.1', port: 1 });
    const atServer: string[] = [];
    const atClient: string[] = [];
    server.on('data', (d: Buffer) => atServer.push(d.toString()));
    client.on('data', (d: Buffer) => atClient.push(d.toString()));
    client.write('1#a');
    client.write(Buffer.from('2#bé'));
    server.write('3#xyz');
    assert.deepEqual(atServer, [], 'delivered later, not during write()');
    await tick();
    assert.equal(atServer.join(''), '1#a2#bé');
    assert.equal(atClient.join(''), '3#xyz');
    client.destroy();
  });

  it('end() reaches the peer after the bytes before it; destroy() closes both ends', async () => {
    const [client, server] = LocalSocket.pair({ address: '127.0.0.1', port: 1 });
    const events: string[] = [];
    server.on('data', (d: Buffer) => events.push(`data ${d.toString()}`));
    server.on('end', () => events.push('end'));
    server.on('close', () => events.push('server close'));
    client.on('close', () => events.push('client close'));
    client.write('last');
    client.end();
    for (let i = 0; i < 10 && !events.includes('server close'); i++) await tick();
    assert.deepEqual(events.slice(0, 2), ['data last', 'end']);
    assert.ok(events.includes('server close') && events.includes('client close'), events.join(', '));

    const [a, b] = LocalSocket.pair({ address: '127.0.0.1', port: 1 });
    let bClosed = false;
    b.on('close', () => (bClosed = true));
    a.destroy();
    for (let i = 0; i < 10 && !bClosed; i++) await tick();
    assert.ok(bClosed, 'the peer of a destroyed end closes');
    await new Promise<void>((resolve) => b.write('x', (err) => {
      assert.ok(err, 'writing to a closed end fails');
      resolve();
    }));
  });
});
