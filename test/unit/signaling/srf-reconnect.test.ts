// A drachtio-server that goes away: drachtio-srf reconnects until Parley closes its
// connection, then never again (srf.disconnect() threw without a socket and the retries
// went on for ever, keeping a stopped Parley's process alive). A fake server by hand:
// it authenticates the app, then closes and listens again on the same port, counting
// the connections that still come. And the same with a real drachtio-server that stops, when
// PARLEY_DRACHTIO_BIN names one (skipped otherwise).
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { connectSrf } from '../../../src/signaling/srf-connection.ts';
import { DRACHTIO_BIN, spawnRealDrachtio } from '../../helpers/real-drachtio.ts';
import { testLogger } from '../../helpers/sip-harness.ts';

/** Answers every `authenticate` OK, as drachtio-server does (framing `<len>#<payload>`). */
function fakeServer(port = 0): Promise<{ server: net.Server; port: number; sockets: net.Socket[]; connections: () => number }> {
  const sockets: net.Socket[] = [];
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    sockets.push(s);
    s.on('error', () => {});
    s.on('data', (d) => {
      const m = /^\d+#([^|]+)\|authenticate\|/.exec(d.toString());
      if (!m) return;
      const payload = `srv-1|response|${m[1]}|OK|udp/127.0.0.1:5060|v0.9.10|`;
      s.write(`${Buffer.byteLength(payload)}#${payload}`);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, sockets, connections: () => n })));
}

describe('the connection to a drachtio-server that went away', () => {
  it('closes for good: no reconnect after close()', async () => {
    const first = await fakeServer();
    const sip = { ...defaultConfig.sip, server: 'remote' as const, control: { host: '127.0.0.1', port: first.port, secret: 's' } };
    const conn = await connectSrf({ sip, log: testLogger() });
    // The server stops: drachtio-srf starts reconnecting.
    for (const s of first.sockets) s.destroy();
    await new Promise<void>((r) => first.server.close(() => r()));
    await new Promise((r) => setTimeout(r, 300));
    conn.close();
    // The server is back: nothing may connect to it any more.
    const again = await fakeServer(first.port);
    await new Promise((r) => setTimeout(r, 3000));
    const n = again.connections();
    for (const s of again.sockets) s.destroy();
    await new Promise<void>((r) => again.server.close(() => r()));
    assert.equal(n, 0, `connections after close(): ${n}`);
  });
});

describe('the connection to a real drachtio-server that stopped', { skip: !DRACHTIO_BIN && 'needs PARLEY_DRACHTIO_BIN' }, () => {
  it('closes for good: no reconnect after close()', async () => {
    const real = await spawnRealDrachtio();
    const sip = { ...defaultConfig.sip, server: 'remote' as const, control: { host: '127.0.0.1', port: real.controlPort, secret: real.secret } };
    const conn = await connectSrf({ sip, log: testLogger() });
    await real.close();
    await new Promise((r) => setTimeout(r, 300));
    conn.close();
    const again = await fakeServer(real.controlPort);
    await new Promise((r) => setTimeout(r, 3000));
    const n = again.connections();
    for (const s of again.sockets) s.destroy();
    await new Promise<void>((r) => again.server.close(() => r()));
    assert.equal(n, 0, `connections after close(): ${n}`);
  });
});
