// Two-party forwarding through the real path (real UDP peers, RTP endpoints,
// the room's real 20 ms clock): a two-leg call is forwarded; a prompt and a
// third leg make the mixer take over, and it hands back when they end. Each
// peer must receive one stream throughout: sequence numbers without a gap or a
// repeat, timestamps 20 ms apart, the other's tone without a dropout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import type { LocalMediaLeg } from '../../../src/media-plane/media-leg.ts';
import { medianToneShare, rms } from '../../helpers/audio-analysis.ts';
import { collect, envelope, inRoom, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import type { RtpPeer } from '../../helpers/rtp-peer.ts';
import { ToneSource } from '../../helpers/tone-source.ts';
import { waitFor } from '../../helpers/wait.ts';

/**
 * Packets received from index `from` on: one SSRC, sequence +1 and timestamp +`step` from each to the next.
 * But for the room's clock: when its thread stalls past its catch-up it skips ticks (MixClock), and a
 * mixed stream's timestamps follow room time, so the next packet's moves k frames at once (sequence +1).
 * Up to `skipped` frames (the ticks the clock skipped meanwhile) may go so; any other break fails.
 */
function assertOneStream(peer: RtpPeer, from: number, step: number, what: string, skipped = 0): void {
  const got = peer.received.slice(from);
  assert.equal(new Set(got.map((p) => p.ssrc)).size, 1, `${what}: one SSRC`);
  const bad: string[] = [];
  let bySkips = 0;
  for (let i = 1; i < got.length; i++) {
    const ds = (got[i].seq - got[i - 1].seq) & 0xffff;
    const dt = (got[i].timestamp - got[i - 1].timestamp) >>> 0;
    const k = dt / step - 1;
    if (ds === 1 && Number.isInteger(k) && k > 0 && bySkips + k <= skipped) bySkips += k;
    else if (ds !== 1 || dt !== step) bad.push(`#${i}: seq +${ds}, ts +${dt}`);
  }
  assert.deepEqual(bad, [], `${what}: ${got.length} packets, breaks: ${bad.join('; ')} (the room's clock skipped ${skipped} ticks meanwhile)`);
}

/** The longest run of 20 ms frames whose level is under a third of the stream's median level. */
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

/** Frames the mixer encoded for a listener, but for silence filled in while forwarding. */
const mixedFrames = (p: MixerParticipant): number => p.encoded - p.silenceFilled;

/** Waits until both listeners got `count` more packets forwarded. */
async function forwarded(parts: MixerParticipant[], count: number): Promise<void> {
  const from = parts.map((p) => p.output.stats.forwarded);
  await waitFor(`${count} packets forwarded`, () => parts.every((p, i) => p.output.stats.forwarded >= from[i] + count), 15_000);
}

describe('two-party forwarding (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    // This test reads the mixer's own counters (encoded frames per participant): the room runs on this thread.
    engine = await startEngine({ threads: 0 });
  });
  after(() => engine.close());

  it('a prompt and a third leg take over from forwarding and hand back: each stream continuous, no dropout, no encoding while forwarded', () => inRoom(engine, 'forward', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    const b = await join(room, { codec: 'PCMU', id: 'b' });
    const parts = [(a.leg as LocalMediaLeg).mixerParticipant!, (b.leg as LocalMediaLeg).mixerParticipant!];
    a.peer.setTone(440);
    b.peer.setTone(1000);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    await forwarded(parts, 10);
    const from = [a.peer.received.length, b.peer.received.length];
    const skippedFrom = room.mixerStats.skipped;

    // Forwarded: packets keep coming, no encoder runs for either listener (but
    // for silence, should the machine's load stall a peer's sender for 60 ms).
    const encoded = parts.map(mixedFrames);
    await forwarded(parts, 25);
    assert.deepEqual(parts.map(mixedFrames), encoded, 'no frame mixed and encoded while forwarding');

    // A 1 s prompt: mixed while it plays, forwarded again after it.
    const prompt = new ToneSource(700, room.mixerSampleRate, 50, 4000);
    room.play(prompt);
    await waitFor('the prompt mixed in', () => parts.every((p, i) => p.encoded >= encoded[i] + 50), 15_000);
    await forwarded(parts, 25);

    // A third leg joins (mixed) and leaves (forwarded again).
    const encodedBeforeC = parts.map((p) => p.encoded);
    const c = await join(room, { codec: 'PCMU', id: 'c' });
    await collect(c.peer, 25);
    assert.ok(parts.every((p, i) => p.encoded > encodedBeforeC[i] + 20), 'three legs are mixed');
    c.leg.close();
    await c.peer.close();
    await forwarded(parts, 25);
    const to = [a.peer.received.length, b.peer.received.length];
    const skipped = room.mixerStats.skipped - skippedFrom;

    for (const [peer, talker, k, hz, name] of [[a.peer, b.peer, 0, 1000, 'a'], [b.peer, a.peer, 1, 440, 'b']] as const) {
      assertOneStream(peer, from[k], 160, name, skipped);
      const pcm = peer.decoded(from[k]).subarray(0, (to[k] - from[k]) * 160);
      assert.ok(medianToneShare(pcm, hz, 8000) > 0.5, `${name} hears the other's ${hz} Hz (${medianToneShare(pcm, hz, 8000).toFixed(2)})`);
      const dropout = longestDropout(pcm, 8000);
      // The talker's sender stats show what this loaded process did to it (catch-ups after stalls).
      assert.ok(dropout <= 1, `${name}: a dropout of ${dropout} frames (talker's sender ${JSON.stringify(talker.pacer.stats)}): ${envelope(pcm, 8000)}`);
    }
  }));

  it('an Opus call is forwarded: the payload decodes to the talker\'s tone, timestamps 960 apart', () => inRoom(engine, 'forward-opus', async (room, join) => {
    const a = await join(room, { codec: 'opus', id: 'a' });
    const b = await join(room, { codec: 'opus', id: 'b' });
    const parts = [(a.leg as LocalMediaLeg).mixerParticipant!, (b.leg as LocalMediaLeg).mixerParticipant!];
    a.peer.setTone(600);
    await waitForSound(b.peer);
    await forwarded(parts, 5);
    const from = b.peer.received.length;
    const encoded = parts.map(mixedFrames);
    await forwarded(parts, 50);
    assert.deepEqual(parts.map(mixedFrames), encoded, 'no Opus frame mixed and encoded while forwarding');
    assertOneStream(b.peer, from, 960, 'b');
    const heard = b.peer.decoded(from);
    assert.ok(medianToneShare(heard, 600, 16000) > 0.8, `b hears a's 600 Hz (${medianToneShare(heard, 600, 16000).toFixed(2)})`);
  }));
});
