// A sips: Request-URI asks for TLS on every hop (RFC 3261 §26.2.2 as RFC 5630 rewrites it; see
// src/sip/core/sips-hop.ts). Over real loopback SIP: one that reaches Parley over UDP or TCP is
// refused 416 before the app sees it (it was answered 200 by the app); one Parley sends through a
// sip: outbound proxy goes over TLS or, with no TLS listener, not at all (it went over UDP).
// The TLS side of both (a sips: request over TLS, a sips: request through a sip: proxy reached
// over TLS) is in tls.test.ts.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { header, RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

describe('a sips: Request-URI over a transport that is not TLS', () => {
  let h: Harness;
  const seen: string[] = [];
  before(async () => {
    h = await startHarness({});
    const answer: Handler = (req, res) => {
      seen.push(`${req.method} ${req.uri}`);
      res.send(200);
    };
    (h.srf as unknown as { options(f: Handler): void }).options(answer);
    h.srf.invite(answer);
  });
  after(() => h.close());

  const sipsOver = (method: string, port: number, transport: 'UDP' | 'TCP', clientPort: number, branch: string): string =>
    request(method, clientPort, { Via: `SIP/2.0/${transport} 127.0.0.1:${clientPort};branch=${branch}` })
      .text.replace(/^(\w+) sip:parley@127\.0\.0\.1 /, `$1 sips:parley@127.0.0.1:${port} `);

  it('over UDP: 416 with a Reason saying why, the app never sees it; a retransmission gets the same answer', async () => {
    const ua = await RawSipClient.open();
    try {
      // The app is there: the same request with a sip: Request-URI gets its 200 (retried until its route is in).
      let ok = '';
      for (let i = 0; i < 50 && !/^SIP\/2\.0 200 /.test(ok); i++) {
        ua.send(h.server.sipPort('udp'), request('OPTIONS', ua.port).text);
        ok = await ua.nextMatching(/^SIP\/2\.0 [2-6]/);
      }
      assert.match(ok, /^SIP\/2\.0 200 /);
      seen.length = 0;
      const branch = `z9hG4bK-sips-udp-${process.pid}`;
      const invite = sipsOver('INVITE', h.server.sipPort('udp'), 'UDP', ua.port, branch);
      ua.send(h.server.sipPort('udp'), invite);
      const first = await ua.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.match(first, /^SIP\/2\.0 416 Unsupported URI Scheme\r$/m);
      assert.match(header(first, 'Reason'), /^SIP ;cause=416 ;text="[^"]*sips: Request-URI must arrive over TLS/);
      ua.send(h.server.sipPort('udp'), invite);
      const again = await ua.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.match(again, /^SIP\/2\.0 416 /);
      assert.equal(header(again, 'To'), header(first, 'To'), 'the same response: the transaction answered the retransmission');
      // The ACK of the 416 is the transaction's (RFC 3261 §17.2.1): absorbed, no answer, no app.
      ua.send(h.server.sipPort('udp'), invite.replace(/^INVITE /, 'ACK ').replace(/ INVITE\r\n/, ' ACK\r\n').replace(/^To: .*$/m, `To: ${header(first, 'To')}`));
      const options = sipsOver('OPTIONS', h.server.sipPort('udp'), 'UDP', ua.port, `${branch}-options`);
      ua.send(h.server.sipPort('udp'), options);
      assert.match(await ua.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 416 /);
      assert.deepEqual(seen, [], 'the app saw none of them');
    } finally {
      ua.close();
    }
  });

  it('over TCP: 416 on the connection, the app never sees it', async () => {
    seen.length = 0;
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await new Promise((r) => s.once('connect', r));
    try {
      s.write(sipsOver('OPTIONS', h.server.sipPort('tcp'), 'TCP', s.localPort ?? 0, `z9hG4bK-sips-tcp-${process.pid}`));
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (!/^SIP\/2\.0 [2-6]\d\d /m.test(got)) return;
          s.off('data', check);
          resolve();
        };
        s.on('data', check);
      });
      assert.match(got, /^SIP\/2\.0 416 Unsupported URI Scheme\r$/m);
      assert.deepEqual(seen, []);
    } finally {
      s.destroy();
    }
  });

  it('a request to a sips: URI through a sip: outbound proxy, with no TLS listener: 416 to the app, nothing sent to the proxy', async () => {
    const hole = dgram.createSocket('udp4');
    const arrived: string[] = [];
    hole.on('message', (m) => arrived.push(m.toString()));
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    try {
      const status = await h.srf
        .createUAC('sips:bob@127.0.0.1:5999', { localSdp: SDP, proxy: `sip:127.0.0.1:${hole.address().port}` })
        .then(
          () => 200,
          (err: { status?: number }) => err.status ?? 0,
        );
      assert.equal(status, 416);
      // A datagram sent before the 416 would be read by now: the hole is on the same loop.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(arrived, [], 'no INVITE with a sips: Request-URI went over UDP');
    } finally {
      hole.close();
    }
  });
});
