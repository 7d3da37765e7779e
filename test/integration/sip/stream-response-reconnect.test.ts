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
