// The ACK of a non-2xx final response is hop-by-hop (RFC 3261 §17.1.1.3): it carries the
// INVITE's Route, so a phone that sends through Parley as its outbound proxy (baresip's
// `;outbound=`, linphone's route) names Parley in it. Parley's INVITE server transaction
// must take it (§17.2.1: timer G stops), never forward it on as a Record-Routed in-dialog
// request (the caller then got the 487 or 486 again and again until timer H, and the
// callee a stray ACK).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { header, RawSipClient, request, tagOf } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';

describe('the ACK of a non-2xx carrying a Route to Parley', () => {
  let h: Harness;
  let phone: RawSipClient;
  let callee: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    phone = await RawSipClient.open();
    callee = await RawSipClient.open();
    h.srf.invite((req, res) => {
      // `proxy-me`: proxied to the Request-URI (the callee answers 486); else answered 486 here.
      if (req.get('Subject') === 'proxy-me') void (req as unknown as { proxy(o: Record<string, unknown>): Promise<unknown> }).proxy({ destination: req.uri, remainInDialog: true });
      else res.send(486);
    });
  });
  /** Parley as the phone's outbound proxy. */
  const route = (): string => `<sip:127.0.0.1:${sipPort};lr>`;
  /** The phone's ACK of the non-2xx `res` to `inv`: its branch and Route (RFC 3261 §17.1.1.3). */
  const ackOf = (inv: { text: string; branch: string; callId: string }, res: string): string =>
    `ACK sip:bob@127.0.0.1:${callee.port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${inv.branch}\r\n` +
    `Route: ${route()}\r\nMax-Forwards: 70\r\n` +
    `From: ${header(inv.text, 'From')}\r\nTo: ${header(res, 'To')}\r\n` +
    `Call-ID: ${inv.callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;

  after(() => {
    phone.close();
    callee.close();
    h.close();
  });

  it('ends the transaction: no retransmitted 486, nothing forwarded to the Request-URI', async () => {
    const inv = request('INVITE', phone.port, { Route: route() });
    phone.send(sipPort, inv.text.replace('INVITE sip:parley@127.0.0.1 ', `INVITE sip:bob@127.0.0.1:${callee.port} `));
    const busy = await phone.nextMatching(/^SIP\/2\.0 486 /);
    assert.ok(tagOf(header(busy, 'To')), 'the 486 has a To tag');
    phone.send(sipPort, ackOf(inv, busy));
    // Timer G would resend the 486 after T1 (500 ms), then 1 s, 2 s…: 2.5 s sees at least two.
    const again = await phone.nextMatching(/^SIP\/2\.0 486 /, 2500).catch(() => null);
    assert.equal(again, null, 'the 486 was sent again: the ACK did not reach the transaction');
    const forwarded = await callee.next(300).catch(() => null);
    assert.equal(forwarded, null, `the ACK was forwarded on:\n${forwarded}`);
  });

  it('proxied: the caller\'s ACK ends Parley\'s server transaction; the callee gets Parley\'s own ACK only', async () => {
    const inv = request('INVITE', phone.port, { Route: route(), Subject: 'proxy-me' });
    phone.send(sipPort, inv.text.replace('INVITE sip:parley@127.0.0.1 ', `INVITE sip:bob@127.0.0.1:${callee.port} `));
    const proxied = await callee.nextMatching(/^INVITE /);
    const keep = proxied.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
    callee.send(sipPort, `SIP/2.0 486 Busy Here\r\n${keep.join('\r\n').replace(/^(To: .*)$/m, '$1;tag=callee1')}\r\nContent-Length: 0\r\n\r\n`);
    const hopAck = await callee.nextMatching(/^ACK /);
    assert.ok(!hopAck.includes(inv.branch), 'Parley ACKs the 486 itself, hop by hop');
    const busy = await phone.nextMatching(/^SIP\/2\.0 486 /);
    phone.send(sipPort, ackOf(inv, busy));
    const again = await phone.nextMatching(/^SIP\/2\.0 486 /, 2500).catch(() => null);
    assert.equal(again, null, 'the 486 was sent again: the ACK did not reach the transaction');
    const forwarded = await callee.next(300).catch(() => null);
    assert.equal(forwarded, null, `the caller's ACK was forwarded on:\n${forwarded}`);
  });
});
