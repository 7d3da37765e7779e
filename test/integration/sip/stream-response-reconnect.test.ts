// RFC 3261 §18.2.2 over TCP: a response goes back on the request's connection; once that
// connection is gone, on a new one to the source address at the Via's sent-by port, where the
// sender listens. (It went to the closed connection's own port, where nobody listens: the final
// response to an INVITE whose connection dropped while it rang was lost.)
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../helpers/wait.ts';
import { request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';

describe('a response over TCP whose request connection has closed', () => {
  let h: Harness;
  let closed: () => void = () => undefined;
  before(async () => {
    h = await startHarness({});
    // The app answers once the caller's connection is gone (and Parley has seen it close).
    h.srf.invite((_req, res) => {
      closed = () => setTimeout(() => res.send(480), 300);
    });
  });
  after(() => h.close());

  it('goes on a new connection to the Via sent-by port', async () => {
    let heard = '';
    const srv = net.createServer((c) =>
      c.on('data', (d: Buffer) => (heard += d.toString('latin1'))),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    after(() => srv.close());
    const sentBy = (srv.address() as net.AddressInfo).port;
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
    s.on('error', () => undefined);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await new Promise((r) => s.once('connect', r));
    s.write(request('INVITE', sentBy, { Via: `SIP/2.0/TCP 127.0.0.1:${sentBy};branch=z9hG4bK-reconnect` }).text);
    await waitFor('100 Trying on the connection', () => (/^SIP\/2\.0 100 /m.test(got) ? true : undefined));
    s.destroy();
    closed();
    await waitFor('the 480 on a new connection to the sent-by port', () => /^SIP\/2\.0 480 /m.test(heard));
    assert.match(heard, /branch=z9hG4bK-reconnect/);
  });
});

// RFC 3261 §18.2.2: when the new connection to the `received` address cannot be made, the server
// SHOULD use RFC 3263 §5 on the Via's sent-by and try its addresses in turn. The failed reconnect
// was only logged and the response lost. Here the sent-by names another loopback address than the
// request came from: nobody listens at the source address, the sender listens at its sent-by.
describe('a response over TCP whose reconnect to the source address is refused', () => {
  let h: Harness;
  let closed: () => void = () => undefined;
  before(async () => {
    h = await startHarness({});
    h.srf.invite((_req, res) => {
      closed = () => res.send(480);
    });
  });
  after(() => h.close());

  it('goes on a connection to the Via sent-by address (RFC 3263 §5)', async () => {
    let heard = '';
    const srv = net.createServer((c) => c.on('data', (d: Buffer) => (heard += d.toString('latin1'))));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.2', r));
    after(() => srv.close());
    const sentBy = (srv.address() as net.AddressInfo).port;
    // The source address at that port takes no connection (so the reconnect there is refused).
    const probe = net.connect({ host: '127.0.0.1', port: sentBy });
    const refused = await new Promise<boolean>((r) => {
      probe.once('error', (err: Error & { code?: string }) => r(err.code === 'ECONNREFUSED'));
      probe.once('connect', () => r(false));
    });
    probe.destroy();
    assert.ok(refused, `127.0.0.1:${sentBy} is free`);
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp'), localAddress: '127.0.0.1' });
    s.on('error', () => undefined);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await new Promise((r) => s.once('connect', r));
    s.write(request('INVITE', sentBy, { Via: `SIP/2.0/TCP 127.0.0.2:${sentBy};branch=z9hG4bK-reconnect-next` }).text);
    await waitFor('100 Trying on the connection', () => (/^SIP\/2\.0 100 /m.test(got) ? true : undefined));
    // Closed from our side; Parley ends its side at once (no half-open), and our 'close' follows its FIN:
    // its connection is no longer writable when the app answers.
    s.end();
    await new Promise((r) => s.once('close', r));
    closed();
    await waitFor('the 480 on a connection to the sent-by address', () => /^SIP\/2\.0 480 /m.test(heard));
    assert.match(heard, /branch=z9hG4bK-reconnect-next;received=127\.0\.0\.1/);
  });
});
