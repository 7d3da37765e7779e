// RFC 3261 §18.4 / §8.1.3.1 on the wire: a callee that cannot be reached ends the app's
// request with a 503 at once, instead of retransmissions until timer B (a 408): checked by
// the status and the log line of the transport error, not by wall time.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../helpers/free-port.ts';
import { captureLog, type LogCapture } from '../../helpers/log-capture.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { makeTestPki, type TestPki } from '../../helpers/tls-certs.ts';
import { TlsSipServer } from '../../helpers/tls-sip-peer.ts';

/**
 * createUAC's failure status. No wall-clock limit ("at once" is the machine's speed): the
 * mechanism is checked instead, a 503 that the transport error gave (its log line names the
 * request), where timer B (64·T1, 32 s) would have given a 408.
 */
async function failure(p: Promise<unknown>): Promise<{ status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    return { status: (err as { status?: number }).status };
  }
  throw new Error('the request did not fail');
}

describe('transport errors answer the app 503 at once', () => {
  let h: Harness;
  let pki: TestPki;
  let capture: LogCapture;
  /** The INVITE to `uri` was answered 503 for a transport error, once. */
  const byTransportError = (uri: string): void => {
    const lines = capture.find(/^transport error: answered 503/).filter((l) => l.uri === uri);
    assert.deepEqual(lines.map((l) => l.method), ['INVITE'], `the INVITE to ${uri} failed on the transport error`);
  };

  before(async () => {
    pki = await makeTestPki();
    capture = captureLog();
    h = await startHarness(
      {
        listen: [
          { transport: 'udp', host: '127.0.0.1', port: 0 },
          { transport: 'tcp', host: '127.0.0.1', port: 0 },
          { transport: 'tls', host: '127.0.0.1', port: await freePort(), cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.caFile },
        ],
      },
      capture.log,
    );
  });
  after(async () => {
    h.close();
    await pki.remove();
  });

  it('UDP: a closed port (ICMP port unreachable) fails on the ICMP error, with a log line', async () => {
    const port = await freePort();
    const r = await failure(h.srf.createUAC(`sip:nobody@127.0.0.1:${port}`, { localSdp: SDP }));
    assert.equal(r.status, 503);
    byTransportError(`sip:nobody@127.0.0.1:${port}`);
    assert.ok(capture.find(/udp destination unreachable/).some((l) => l.to === `127.0.0.1:${port}`));
  });

  it('UDP: a callee that answers is not disturbed by the reachability probe (OPTIONS gets its 200)', async () => {
    // A bare UDP peer that answers every request 200 and ignores anything else (the CRLF probe).
    const { default: dgram } = await import('node:dgram');
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    let junk = 0;
    s.on('message', (m, rinfo) => {
      const text = m.toString();
      if (!/^[A-Z]+ /.test(text)) {
        junk++;
        return;
      }
      const keep = text.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
      s.send(['SIP/2.0 200 OK', ...keep.map((l) => (/^to\s*:/i.test(l) ? `${l};tag=p` : l)), 'Content-Length: 0', '', ''].join('\r\n'), rinfo.port, rinfo.address);
    });
    try {
      const res = await new Promise<number>((resolve, reject) => {
        // srf.request(uri, opts, cb) at run time; the typings want a socket first.
        type Sent = { on(e: 'response', f: (r: { status: number }) => void): void };
        const srf = h.srf as unknown as { request(uri: string, opts: object, cb: (err: unknown, req: Sent) => void): void };
        srf.request(`sip:peer@127.0.0.1:${s.address().port}`, { method: 'OPTIONS' }, (err, req) => {
          if (err) return reject(err as Error);
          req.on('response', (r) => resolve(r.status));
        });
      });
      assert.equal(res, 200);
      assert.ok(junk <= 1, 'at most one CRLF keep-alive per request');
    } finally {
      s.close();
    }
  });

  it('TCP: a refused connection fails at once', async () => {
    const port = await freePort();
    const r = await failure(h.srf.createUAC(`sip:nobody@127.0.0.1:${port};transport=tcp`, { localSdp: SDP }));
    assert.equal(r.status, 503);
    byTransportError(`sip:nobody@127.0.0.1:${port};transport=tcp`);
  });

  it('TCP: a connection reset while the INVITE waits fails it at once', async () => {
    const srv = net.createServer((sock) => sock.once('data', () => sock.resetAndDestroy()));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const r = await failure(h.srf.createUAC(`sip:reset@127.0.0.1:${port};transport=tcp`, { localSdp: SDP }));
      assert.equal(r.status, 503);
      byTransportError(`sip:reset@127.0.0.1:${port};transport=tcp`);
        assert.ok(capture.find(/tcp connection failed/).some((l) => l.code === 'ECONNRESET'));
    } finally {
      srv.close();
    }
  });

  it('TLS: a callee whose certificate is not trusted fails at once', async () => {
    const rogue = await TlsSipServer.listen({ cert: pki.rogueClient.cert, key: pki.rogueClient.key });
    try {
      const r = await failure(h.srf.createUAC(`sips:bob@127.0.0.1:${rogue.port}`, { localSdp: SDP }));
      assert.equal(r.status, 503);
      byTransportError(`sips:bob@127.0.0.1:${rogue.port}`);
        assert.ok(capture.find(/tls connection failed/).length >= 1);
    } finally {
      rogue.close();
    }
  });

  it('DNS: a name that does not resolve fails with 503 (not a control-protocol error)', async () => {
    const r = await failure(h.srf.createUAC('sip:nobody@callee.invalid', { localSdp: SDP }));
    assert.equal(r.status, 503);
    byTransportError('sip:nobody@callee.invalid');
  });
});
