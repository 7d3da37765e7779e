// A stalled media thread under a forwarded two-party call (real UDP peers, the
// room's real clock on a real media thread, stalled by the test-only 'stall'
// command as by a long GC pause): its catch-up ticks run before the packets
// queued meanwhile are read. Those ticks must not take the forwarded legs for
// paused: no silence filled in, then the late packets forwarded behind it (the
// peer would get both for the same time span, its audio shifted). Each peer
// gets the other's packets, late, on one continuous timeline, the tone whole.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { envelope, forwardedPair, inRoom, longestDropout, startEngine, untilStats } from '../../helpers/media-harness.ts';
import type { RtpPeer } from '../../helpers/rtp-peer.ts';

const STALL_MS = 200;

/** Frames the talker's own sender failed to send in time since `sinceMs` (gaps of 60 ms or more: a real pause the room may fill). */
function senderGapFrames(talker: RtpPeer, sinceMs: number): number {
  let frames = 0;
  const sent = talker.sentAt;
  for (let i = 1; i < sent.length; i++) {
    if (sent[i] < sinceMs) continue;
    const gap = sent[i] - sent[i - 1];
    if (gap >= 60) frames += Math.ceil(gap / 20);
  }
  return frames;
}

/** Breaks in the received stream from `from` on: a sequence number not +1, a timestamp not +step. */
function breaks(peer: RtpPeer, from: number, step: number): string[] {
  const got = peer.received.slice(from);
  const bad: string[] = [];
  for (let i = 1; i < got.length; i++) {
    const ds = (got[i].seq - got[i - 1].seq) & 0xffff;
    const dt = (got[i].timestamp - got[i - 1].timestamp) >>> 0;
    if (ds !== 1 || dt !== step) bad.push(`#${i}: seq +${ds}, ts +${dt}${got[i].marker ? ' (marked)' : ''}`);
  }
  return bad;
}

describe('a stalled media thread under a forwarded call (real thread, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ threads: 1 });
  });
  after(() => engine.close());

  it('the catch-up ticks fill no silence: the late packets arrive on one continuous timeline, the tone whole', () => inRoom(engine, 'stall', async (room, join) => {
    const { a, b, parts } = await forwardedPair(engine, room, join);
    const from = [a.peer.received.length, b.peer.received.length];
    const filledFrom = parts.map((p) => p.silenceFilled);
    const lateFrom = room.mixerStats.late;
    const sinceMs = performance.now() - 100;

    // Three stalls, each well past the three frames after which a forwarded input counts as paused.
    for (let k = 0; k < 3; k++) {
      const n = a.peer.received.length;
      engine.stallThreadForTest(0, STALL_MS);
      await a.peer.waitForPackets(n + 40);
    }
    await untilStats(engine, 'the stalls seen as late ticks', () => room.mixerStats.late >= lateFrom + 3);
    const to = [a.peer.received.length, b.peer.received.length];

    for (const [peer, talker, k, hz, name] of [[a.peer, b.peer, 0, 1000, 'a'], [b.peer, a.peer, 1, 440, 'b']] as const) {
      // Silence is due only where the talker's own sender paused (the loaded machine), for as long.
      const allowed = senderGapFrames(talker, sinceMs);
      const filled = parts[k].silenceFilled - filledFrom[k];
      assert.ok(filled <= allowed, `${name}: ${filled} frames of silence filled in, ${allowed} allowed (the talker's sender gaps)`);
      if (allowed === 0) assert.deepEqual(breaks(peer, from[k], 160).slice(0, 10), [], `${name}: one timeline (sequence +1, timestamp +160)`);
      const pcm = peer.decoded(from[k]).subarray(0, (to[k] - from[k]) * 160);
      assert.ok(medianToneShare(pcm, hz, 8000) > 0.5, `${name} hears ${hz} Hz`);
      const dropout = longestDropout(pcm, 8000);
      assert.ok(dropout <= 1 + allowed, `${name}: a dropout of ${dropout} frames, ${1 + allowed} allowed: ${envelope(pcm, 8000)}`);
    }
  }));
});
