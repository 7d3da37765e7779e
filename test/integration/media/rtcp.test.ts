// RTCP between two legs' own endpoints (an outgoing leg offering to an incoming
// leg, as a conference link does): each sends SR/RR every few seconds and reads
// the other's, so both know the round-trip time and what the other lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { startEngine } from '../../helpers/media-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('RTCP reports between two endpoints (real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('both ends learn the round-trip time and the loss the other saw', async () => {
    const near = await engine.createRoom('rtcp-near');
    const far = await engine.createRoom('rtcp-far');
    const out = await near.createOutgoingLeg({ id: 'out' });
    assert.match(out.offer, /a=rtcp:\d+\r\na=rtcp-mux/, 'the offer proposes rtcp-mux and names an RTCP port (RFC 5761 §5.1.1)');
    const inc = await far.createLeg(out.offer, { id: 'in' });
    await out.leg.applyAnswer(inc.answer);
    try {
      // The first report goes out 1.25-3.75 s after negotiation, the next ones every 2.5-7.5 s.
      await waitFor('RTT on both ends', () => out.leg.rtcpStats?.rttMs != null && inc.leg.rtcpStats?.rttMs != null, 20_000);
      // On loopback the round trip is the time the reports waited to be read: under 100 ms, plus as much as
      // the two rooms' threads ran late meanwhile (their clocks' longest lateness, measured in this run: a
      // loaded machine stalls them, and a report waits as long as a tick).
      await engine.nextStats();
      const stalls = near.mixerStats.maxLateMs + far.mixerStats.maxLateMs;
      for (const leg of [out.leg, inc.leg]) {
        const s = leg.rtcpStats!;
        assert.ok(s.rttMs! >= 0 && s.rttMs! < 100 + stalls, `RTT on loopback: ${s.rttMs} ms (the rooms' threads ran up to ${stalls.toFixed(1)} ms late)`);
        assert.ok(s.remote && s.remote.cumulativeLost === 0, `the peer reported no loss: ${JSON.stringify(s.remote)}`);
        assert.ok(s.reportsSent >= 1 && s.reportsReceived >= 1, `reports both ways: ${s.reportsSent} sent, ${s.reportsReceived} received`);
        assert.ok(s.packetsReceived > 50, `RTP counted: ${s.packetsReceived}`);
      }
      // Muxed: the outgoing leg's RTCP port was given up when the answer took rtcp-mux.
      assert.equal(out.leg.endpoint!.hasRtcpPort, false);
    } finally {
      near.close();
      far.close();
    }
  });
});
