// An offer whose G.711 payload type says two channels (`a=rtpmap:0 PCMU/8000/2`, RFC 3551 §4.1:
// the channels' samples interleaved) is another format than the mono PCMU Parley speaks. It was
// taken as mono: the answer named PT 0 `PCMU/8000`, and the phone got mono packets it plays as
// stereo (half the samples per channel: the audio an octave up, twice as fast) while Parley
// read its stereo packets as mono. Such a format is now passed over: the next one offered is
// chosen, and an offer with nothing else gets 488 (Warning 305).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { medianToneShare } from '../helpers/audio-analysis.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { gatewayYaml } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

describe('adversary: an offer of stereo G.711', () => {
  const parley = parleyPerSuite(
    gatewayYaml('beeps', ['answer', 'play: { tone: beep }', 'play: { tone: beep }', 'play: { tone: beep }', 'collect: { into: x, maxDigits: 1, timeout: 60 }']),
  );

  it('PCMU/8000/2 before PCMA: PCMA is chosen, and the phone hears the 1 kHz beep in it', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMA' }).bind();
    const d = new RawDialog(ua, parley().sipPort, 'stereo-then-pcma');
    try {
      const offer = phone.sdp().replace(/^m=audio (\d+) RTP\/AVP 8\b/m, 'm=audio $1 RTP/AVP 0 8').replace(/^a=rtpmap:8 /m, 'a=rtpmap:0 PCMU/8000/2\r\na=rtpmap:8 ');
      assert.match(offer, /^m=audio \d+ RTP\/AVP 0 8 /m, 'the offer lists the stereo PCMU first');
      const ok = await d.invite(offer);
      assert.equal(statusOf(ok), 200, ok.split('\r\n')[0]);
      const answer = bodyOf(ok);
      assert.match(answer, /^m=audio \d+ RTP\/AVP 8( |\r?$)/m, `the answer chose PCMA:\n${answer}`);
      assert.doesNotMatch(answer, /^a=rtpmap:0 /m, 'PT 0 is not in the answer');
      phone.useRemoteSdp(answer);
      phone.start();
      // 20 packets: the first beep's 250 ms, whatever comes before it.
      await phone.waitForPackets(30, 15_000);
      const heard = phone.decoded();
      const share = medianToneShare(heard, 1000, 8000);
      assert.ok(share > 0.5, `1 kHz in what the phone heard, decoded as PCMA: ${share.toFixed(2)}`);
    } finally {
      d.cseq++;
      d.send('BYE');
      await d.finalTo(`${d.cseq} BYE`).catch(() => undefined);
      ua.close();
      await phone.close();
    }
    await assertNothingLeft(parley());
  });

  it('an offer of PCMU/8000/2 alone is refused with 488, Warning 305', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const d = new RawDialog(ua, parley().sipPort, 'stereo-only');
    try {
      const offer = phone.sdp().replace(/^a=rtpmap:0 PCMU\/8000\r?$/m, 'a=rtpmap:0 PCMU/8000/2');
      assert.match(offer, /^a=rtpmap:0 PCMU\/8000\/2\r?$/m);
      const res = await d.invite(offer);
      assert.equal(statusOf(res), 488, res.split('\r\n')[0]);
      assert.match(res, /\r\nWarning: 305 parley "no common audio codec"/);
    } finally {
      ua.close();
      await phone.close();
    }
    await assertNothingLeft(parley());
  });
});
