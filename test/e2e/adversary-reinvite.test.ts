// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A re-INVITE without SDP (RFC 3261 §14.2; PBXs send them in 3pcc transfers, RFC 3725
// flow I, to reconnect the media to another phone): Parley's offer goes in the 200 and the
// peer's answer comes in the ACK. The ACK's answer was ignored: Parley went on sending to
// the old address (a transferred call was silent one way). It is now applied, and an ACK
// without an answer ends the call (BYE with a Reason), as for the first INVITE's.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { gatewayYaml } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, offerSdp, RawDialog, rtpSink, statusOf, until } from './raw-dialog.ts';

/** An answer to Parley's offer: the codec it offered first, at `port`. */
function answerTo(offer: string, port: number): string {
  const pt = /m=audio \d+ RTP\/AVP (\d+)/.exec(offer)![1];
  return `v=0\r\no=- 7 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${pt}\r\na=sendrecv\r\n`;
}

describe('adversary: re-INVITE without SDP (offer in the 200, answer in the ACK)', () => {
  const parley = parleyPerSuite(
    gatewayYaml('hold-line', ['answer', 'play: { tone: beep }', 'collect: { into: x, maxDigits: 1, timeout: 60 }']) +
      apiYaml(join(mkdtempSync(join(tmpdir(), 'adv-reinvite-')), 'rules.json')),
  );

  it('the answer in the ACK moves the media to the address it names', async () => {
    const ua = await RawSipClient.open();
    const first = await rtpSink();
    const moved = await rtpSink();
    const c = new RawDialog(ua, parley().sipPort, 'moved');
    try {
      assert.equal(statusOf(await c.invite(offerSdp(first.port))), 200);
      assert.ok(await until(() => first.packets() > 0, 10_000), 'no RTP at the first address');

      c.cseq++;
      c.send('INVITE');
      const ok = await c.final();
      assert.equal(statusOf(ok), 200, ok);
      const offer = bodyOf(ok);
      assert.match(offer, /^m=audio [1-9]\d* RTP\/AVP /m, `the 200 carries no offer:\n${ok}`);
      c.send('ACK', answerTo(offer, moved.port), c.cseq);

      assert.ok(await until(() => moved.packets() > 10, 10_000), `no RTP at the address of the answer in the ACK (${moved.packets()} packets)`);
      await new Promise((r) => setTimeout(r, 300));
      const stale = first.packets();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(first.packets(), stale, 'RTP still goes to the old address');

      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      first.socket.close();
      moved.socket.close();
    }
  });

  it('an ACK without the answer ends the call with a BYE', async () => {
    const ua = await RawSipClient.open();
    const rtp = await rtpSink();
    const c = new RawDialog(ua, parley().sipPort, 'noanswer');
    try {
      assert.equal(statusOf(await c.invite(offerSdp(rtp.port))), 200);
      assert.ok(await until(() => rtp.packets() > 0, 10_000), 'no RTP');
      c.cseq++;
      c.send('INVITE');
      assert.equal(statusOf(await c.final()), 200);
      c.send('ACK', '', c.cseq);
      const bye = await ua.nextMatching(/^BYE /, 10_000);
      assert.match(bye, /\r\nReason:\s*SIP;cause=488/i);
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      rtp.socket.close();
    }
  });
});
