// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Offers that took the media thread down, and every call on it with it. Without
// rtcp-mux RTCP goes to a=rtcp's port or the RTP port + 1: `m=audio 65535` made that
// 65536 and `a=rtcp:0` made it 0, and Node's dgram throws on a send to either port.
// The call was answered 200, and the first RTCP report (1-4 s later) threw in the media
// thread: every call on it ended (BYE, cause 41). Such an offer is now refused (488,
// Warning 399), as a first offer and as a re-offer, and the other calls go on.
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
import { offerSdp, RawDialog, rtpSink, statusOf, until } from './raw-dialog.ts';

/** An offer whose RTCP port (no rtcp-mux) is out of range. */
function badRtcp(kind: 'rtp-65535' | 'rtcp-0', rtpPort: number, version = 1): string {
  return kind === 'rtp-65535' ? offerSdp(65535, version) : offerSdp(rtpPort, version, ['a=rtcp:0']);
}

describe('adversary: offers whose RTCP port is out of range', () => {
  // One media thread: the victim call and the bad offers share it.
  const parley = parleyPerSuite(
    gatewayYaml('hold-line', ['answer', 'play: { tone: beep }', 'collect: { into: x, maxDigits: 1, timeout: 60 }']) +
      apiYaml(join(mkdtempSync(join(tmpdir(), 'adv-offers-')), 'rules.json')),
    { mediaThreads: 1 },
  );

  it('are refused with 488 (first offer and re-offer) and the other call on the thread goes on', async () => {
    const victimUa = await RawSipClient.open();
    const victimRtp = await rtpSink();
    const victim = new RawDialog(victimUa, parley().sipPort, 'victim');
    const uas: RawSipClient[] = [victimUa];
    try {
      assert.equal(statusOf(await victim.invite(offerSdp(victimRtp.port))), 200);
      assert.ok(await until(() => victimRtp.packets() > 0, 10_000), 'no RTP to the victim');

      for (const kind of ['rtp-65535', 'rtcp-0'] as const) {
        const ua = await RawSipClient.open();
        uas.push(ua);
        const c = new RawDialog(ua, parley().sipPort, `bad-${kind}`);
        const res = await c.invite(badRtcp(kind, victimRtp.port));
        assert.equal(statusOf(res), 488, `${kind}: ${res.split('\r\n')[0]}`);
        assert.match(res, /\r\nWarning: 399 parley "[^"]*RTCP/i);
      }

      // The victim itself re-offers such an SDP: 488, its call stays as it was.
      for (const kind of ['rtp-65535', 'rtcp-0'] as const) {
        victim.cseq++;
        victim.send('INVITE', badRtcp(kind, victimRtp.port, victim.cseq));
        const res = await victim.final();
        assert.equal(statusOf(res), 488, `re-offer ${kind}: ${res.split('\r\n')[0]}`);
        victim.ackFailure();
      }

      // Past the first RTCP report interval (at most 3.75 s): the victim still gets RTP and no BYE.
      await new Promise((r) => setTimeout(r, 5000));
      const before = victimRtp.packets();
      assert.ok(await until(() => victimRtp.packets() > before + 10, 5000), 'the victim call lost its media');
      await assert.rejects(victimUa.nextMatching(/^BYE /, 200), 'the victim got a BYE');
      assert.equal(parley().app.calls!.active.size, 1, 'the victim call is still up');

      victim.cseq++;
      victim.send('BYE');
      assert.equal(statusOf(await victim.final()), 200);
      await assertNothingLeft(parley());
    } finally {
      for (const ua of uas) ua.close();
      victimRtp.socket.close();
    }
  });
});
