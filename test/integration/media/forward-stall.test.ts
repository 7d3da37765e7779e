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
import type { ParticipantView } from '../../../src/media-plane/media-api.ts';
import { medianToneShare, rms } from '../../helpers/audio-analysis.ts';
import { envelope, inRoom, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import type { RtpPeer } from '../../helpers/rtp-peer.ts';
import { waitFor } from '../../helpers/wait.ts';

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

/** The longest run of 20 ms frames under a third of the median level. */
function longestDropout(pcm: Int16Array, rate: number): number {
  const n = rate / 50;
  const levels: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) levels.push(rms(pcm, i, n));
  const median = [...levels].sort((x, y) => x - y)[levels.length >> 1];
  let run = 0;
  let longest = 0;
  for (const l of levels) {
    run = l < median / 3 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

async function untilStats(engine: MediaEngine, what: string, ok: () => boolean): Promise<void> {
  await waitFor(what, async () => {
    await engine.nextStats();
    return ok();
  }, 15_000);
}

describe('a stalled media thread under a forwarded call (real thread, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ threads: 1 });
  });
  after(() => engine.close());

  it('the catch-up ticks fill no silence: the late packets arrive on one continuous timeline, the tone whole', () => inRoom(engine, 'stall', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    const b = await join(room, { codec: 'PCMU', id: 'b' });
    const parts: ParticipantView[] = [a.leg.mixerParticipant!, b.leg.mixerParticipant!];
    a.peer.setTone(440);
    b.peer.setTone(1000);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    const forwardedFrom = parts.map((p) => p.forwarded);
    await untilStats(engine, 'forwarding', () => parts.every((p, i) => p.forwarded >= forwardedFrom[i] + 10));
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
