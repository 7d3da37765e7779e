// A SIPREC client (an SBC) that vanishes without a BYE: its session must not record silence
// for ever. With media.rtpTimeoutSec 2, one stream falling quiet (its party on hold) ends
// nothing; every stream quiet for 2 s, RTP and RTCP alike, ends the session with a BYE giving
// the reason, and its recording is closed and finalized with the audio it got.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS } from './helpers.ts';
import { SIPREC_ROUTING, share, sidecarOf, stemOf, TONES } from './siprec-helpers.ts';

describe('SIPREC: a session whose SRC stops sending (media.rtpTimeoutSec: 2)', () => {
  let parley: RunningParley;
  before(async () => {
    parley = await startParley(SIPREC_ROUTING, { rtpTimeoutSec: 2 });
  });
  after(async () => {
    await parley?.stop();
  });

  it('one stream quiet goes on; all quiet for 2 s ends the session with a BYE (Reason: media timeout), its recording finalized', async () => {
    const peers = await Promise.all([0, 1].map(() => new RtpPeer({ codec: 'PCMU', latch: false }).bind()));
    const calls = parley.app.calls!;
    const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
    const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
    const keys = ['-key', 'group', 'g-timeout', '-key', 'session', 's-timeout', '-key', 'aor1', 'sip:alice@example.com', '-key', 'aor2', 'sip:bob@example.com'];
    peers.forEach((p, i) => keys.push('-key', `rtp${i + 1}`, String(p.port)));
    // The SRC would record for 30 s; it goes silent long before.
    const sipp = await startSipp({ scenario: join(SCENARIOS, 'siprec-two-streams.xml'), transport: 'udp', remote: `127.0.0.1:${parley.sipPort}`, calls: 1, timeoutS: 60, extra: [...keys, '-d', '30000', '-trace_msg'] });
    try {
      const call = await started;
      await waitFor('the session answered', () => call.call.answered, 10_000);
      peers.forEach((p, i) => {
        p.useRemoteSdp(call.call.room.leg(`s${i}`)!.localSdp);
        p.start({ kind: 'tone', freq: [TONES.A, TONES.B][i]!, amplitude: 8000 });
      });
      await new Promise((r) => setTimeout(r, 1500));
      // Bob's stream falls quiet (on hold, say); Alice's goes on: the session stays, for more than the timeout.
      peers[1]!.stopSending();
      await new Promise((r) => setTimeout(r, 3500));
      assert.ok(calls.active.has(call.call.callId), 'one quiet stream does not end the session');
      const quietAt = performance.now();
      peers[0]!.stopSending();
      await ended;
      const after = performance.now() - quietAt;
      assert.ok(after >= 1800 && after < 5000, `ended ${Math.round(after)} ms after the last stream fell quiet`);
      const run = await Promise.race([sipp.done, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
      assert.match(run?.stdout ?? '', /unexpected BYE/, 'the SRC got a BYE');
      const bye = (run?.messages ?? '').split(/-{10,}/).find((m) => /^\s*BYE sip:/m.test(m)) ?? '';
      assert.match(bye, /Reason: [^\r\n]*(timeout|RTP)/i, `the BYE says why: ${bye.slice(0, 400)}`);
      const meta = sidecarOf(parley, call.call.callId);
      assert.ok(meta.endedAt, 'the sidecar is finalized');
      const s0 = stemOf(parley, meta, 's0');
      assert.ok(share(s0.samples, s0.sampleRate, TONES.A) > 0.3, "Alice's stem holds her tone");
      const s1 = stemOf(parley, meta, 's1');
      assert.ok(share(s1.samples.subarray(0, s1.sampleRate), s1.sampleRate, TONES.B) > 0.3, "Bob's stem holds his tone until he fell quiet");
      assert.ok(s0.samples.length >= 5.5 * s0.sampleRate, `the stems run until the end: ${(s0.samples.length / s0.sampleRate).toFixed(1)} s`);
    } finally {
      sipp.kill();
      for (const p of peers) await p.close();
    }
  });
});
