// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// RFC 3264 §8.3.2: a dynamic payload type keeps its codec for the whole session, in any
// offer or answer of either side. A phone that negotiated telephone-event at 96 (and listed
// opus at 107) and then sent an offerless re-INVITE got Parley's own numbers in the 200's
// offer (telephone-event at 101, opus at 111): a phone that keeps its bindings answers with
// 96, and its digits were then dropped as an unknown payload type. The re-offer now keeps
// the session's numbers, and a digit sent at 96 after the exchange still reaches the flow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, MENU_FIVE_YAML, rawCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

/** The phone's offer: PCMU, opus at 107 and telephone-event at 96 (a Polycom-like set of numbers). */
function phoneOffer(port: number): string {
  return [
    'v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 0 107 96`,
    'a=rtpmap:0 PCMU/8000', 'a=rtpmap:107 opus/48000/2', 'a=rtpmap:96 telephone-event/8000', 'a=fmtp:96 0-16',
    'a=ptime:20', 'a=sendrecv',
  ].join('\r\n') + '\r\n';
}

describe('the re-offer in a 200 to an offerless re-INVITE keeps the session\'s payload types (RFC 3264 §8.3.2)', () => {
  const parley = rawParleyPerSuite(MENU_FIVE_YAML);

  it('telephone-event stays at 96 and opus at 107; a digit at 96 after the exchange reaches the menu', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', dtmfPt: 96 }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'reoffer-pts', user: 'ivr', phone }, async (c, ua) => {
      const ok = await c.invite(phoneOffer(phone.port));
      assert.equal(statusOf(ok), 200, ok);
      assert.match(bodyOf(ok), /^a=rtpmap:96 telephone-event\/8000\r?$/m, 'the answer takes telephone-event at 96');
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'silence' });

      c.cseq++;
      c.send('INVITE');
      // Its own 200, by CSeq: a retransmission of the first 200 (T1 is 100 ms here) may still come.
      const reoffer = await c.finalTo(`${c.cseq} INVITE`);
      assert.equal(statusOf(reoffer), 200, reoffer);
      const offer = bodyOf(reoffer);
      assert.match(offer, /^a=rtpmap:96 telephone-event\/8000\r?$/m, `telephone-event keeps 96:\n${offer}`);
      assert.match(offer, /^a=rtpmap:107 opus\/48000\/2\r?$/m, `opus keeps the phone's 107:\n${offer}`);
      assert.doesNotMatch(offer, /^a=rtpmap:101 /m, `no second number for telephone-event/8000:\n${offer}`);
      assert.doesNotMatch(offer, /^a=rtpmap:111 /m, `no second number for opus:\n${offer}`);
      const pts = /^m=audio \d+ RTP\/AVP ([\d ]+)\r?$/m.exec(offer)![1]!.split(' ');
      assert.equal(new Set(pts).size, pts.length, `each payload type once: ${pts.join(' ')}`);
      assert.equal(pts[0], '0', 'the codec in use first');

      // The phone answers in the ACK with its own numbers, then presses 5 (RFC 4733 at 96).
      c.send('ACK', phone.sdp(), c.cseq);
      await phone.waitForPackets(10, 10_000);
      phone.queueDtmf('5', 120);
      await answerBye(ua, parley().sipPort, c.callId);
      const { outcome } = await ended;
      assert.equal(outcome.flow, 'five', 'the digit sent at 96 after the re-offer was taken');
      await assertNothingLeft(parley());
    });
  });
});
