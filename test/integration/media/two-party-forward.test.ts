// Two-party forwarding through the real path (real UDP peers, RTP endpoints,
// the room's real 20 ms clock on a media thread, as in production): a two-leg
// call is forwarded; a prompt and a third leg make the mixer take over, and it
// hands back when they end. Each peer must receive one stream throughout:
// sequence numbers without a gap or a repeat, timestamps 20 ms apart, the
// other's tone without a dropout. The mixer's counters (frames encoded per
// listener, packets forwarded) come from the thread's stats snapshot, asked
// for afresh (engine.nextStats()) before each read.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { ParticipantView } from '../../../src/media-plane/media-api.ts';
import { G711Decoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { ClockStats } from '../../../src/mixer/mix-clock.ts';
import { medianToneShare, rms } from '../../helpers/audio-analysis.ts';
import { collect, envelope, forwarded, forwardedPair, inRoom, longestDropout, startEngine, untilStats, waitForSound } from '../../helpers/media-harness.ts';
import type { RtpPeer } from '../../helpers/rtp-peer.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

/**
 * What the loaded machine did to a stretch of the call, measured in the same run (the control): the
 * talker's sender stalls, as gaps of 50 ms or more between two of its frames (the room then saw its
 * input pause: RtpPeer.sentAt), and the ticks the room's clock ran late or skipped (its thread stalled).
 * All nought on an idle machine, where the checks below allow no break and a dropout of one frame.
 */
interface Disturbance {
  senderGaps: number;
  longestGapMs: number;
  /** The talker's sender dropped a backlog (a stall over 1 s): its own timestamps jumped, unmarked. */
  senderDropped: boolean;
  /**
   * The stretches in which the talker's packets went out on the wire LATE_MS or more after their frame
   * was due (RtpPeer.wire; overlapping ones merged): from when the first was due to when the last went.
   */
  senderLate: { fromMs: number; toMs: number }[];
  lateTicks: number;
  skipped: number;
}

/**
 * A packet this much later on the wire than its frame was due is the test's sender's own stall, under load:
 * not the timer's slack of a ms or two, nor a reordering network's swap (RtpPeer.wire takes that as due).
 * Less late, it is not taken to have cost the listener a frame: a forwarded input counts as paused only
 * after 60 ms without a packet (the swap's 40 leave 20), and after a hand-back the mix waits for a late one.
 */
const LATE_MS = 10;

function disturbance(talker: RtpPeer, sinceMs: number, clockFrom: ClockStats, clockTo: ClockStats): Disturbance {
  let senderGaps = 0;
  let longestGapMs = 0;
  const sent = talker.sentAt;
  for (let i = 1; i < sent.length; i++) {
    if (sent[i] < sinceMs) continue;
    const gap = sent[i] - sent[i - 1];
    if (gap >= 50) senderGaps++;
    longestGapMs = Math.max(longestGapMs, gap);
  }
  const senderLate: Disturbance['senderLate'] = [];
  for (const w of talker.wire) {
    if (w.at < sinceMs || w.at - w.due < LATE_MS) continue;
    const last = senderLate.at(-1);
    if (last !== undefined && w.due <= last.toMs) last.toMs = Math.max(last.toMs, w.at);
    else senderLate.push({ fromMs: w.due, toMs: w.at });
  }
  return { senderGaps, longestGapMs, senderDropped: talker.pacer.stats.dropped > 0, senderLate, lateTicks: clockTo.late - clockFrom.late, skipped: clockTo.skipped - clockFrom.skipped };
}

/** PCMU packets of 20 ms, decoded one after the other. */
function decodePcmu(packets: RtpPeer['received']): Int16Array {
  const dec = new G711Decoder('ulaw');
  const out = new Int16Array(packets.length * 160);
  packets.forEach((p, i) => dec.decode(p.payload, out.subarray(i * 160, (i + 1) * 160)));
  return out;
}

/**
 * A reordered stream between two moments, whole, in sequence order: the packets numbered after the newest one `peer`
 * had received before index `from`, up to the newest it had before index `to`, whenever they came. (A pair's second
 * packet is forwarded a moment after the first: at either moment one may have been received and the other not yet.)
 */
function reorderedBetween(peer: RtpPeer, from: number, to: number): RtpPeer['received'] {
  const ref = peer.received[from].seq;
  const rel = (seq: number): number => ((seq - ref + 0x8000) & 0xffff) - 0x8000;
  let lo = -Infinity;
  for (let i = Math.max(0, from - 10); i < from; i++) lo = Math.max(lo, rel(peer.received[i].seq) + 1);
  let hi = -Infinity;
  for (let i = from; i < to; i++) hi = Math.max(hi, rel(peer.received[i].seq));
  return peer.received.slice(Math.max(0, from - 10)).filter((p) => rel(p.seq) >= lo && rel(p.seq) <= hi).sort((x, y) => rel(x.seq) - rel(y.seq));
}

/**
 * Packets received from index `from` on: one SSRC, sequence +1 and timestamp +`step` from each to the next.
 * But for a pause of the room's input or clock: timestamps follow room time (RtpOutput), so after the
 * talker's input paused (silence filled in, the talker's packets mapped afresh) or the room's clock
 * skipped ticks, the next packet's moves k frames at once, marked (sequence still +1). Up to two such
 * jumps per pause the control measured (a sender gap, a late tick), and jumps of up to `skipped` frames
 * in all, may go so; any other break fails (a sequence gap or repeat, a jump back, an unmarked jump).
 * With `to` the talker's network swaps its packets: the stream up to index `to` is judged in sequence order
 * (reorderedBetween), and its sender's pauses are the stretches it sent late (senderLate: a packet held back
 * for the swap turns a stall of 30 ms into a gap of 70 on the wire, which the sender's gaps do not show).
 */
function assertOneStream(peer: RtpPeer, from: number, step: number, what: string, d: Disturbance, to?: number): void {
  const got = to === undefined ? peer.received.slice(from) : reorderedBetween(peer, from, to);
  const pauses = to === undefined ? d.senderGaps : d.senderLate.length;
  assert.equal(new Set(got.map((p) => p.ssrc)).size, 1, `${what}: one SSRC`);
  const bad: string[] = [];
  let bySkips = 0;
  let byPauses = 0;
  for (let i = 1; i < got.length; i++) {
    const ds = (got[i].seq - got[i - 1].seq) & 0xffff;
    const dt = (got[i].timestamp - got[i - 1].timestamp) >>> 0;
    const k = dt / step - 1;
    const jump = ds === 1 && Number.isInteger(k) && k > 0 && k < 3000 && (got[i].marker || d.senderDropped);
    if (jump && bySkips + k <= d.skipped) bySkips += k;
    else if (jump && byPauses < 2 * (pauses + d.lateTicks)) byPauses++;
    else if (ds !== 1 || dt !== step) bad.push(`#${i}: seq +${ds}, ts +${dt}${got[i].marker ? ' (marked)' : ''}`);
  }
  assert.deepEqual(bad, [], `${what}: ${got.length} packets, breaks: ${bad.join('; ')} (the control: ${JSON.stringify(d)})`);
}

/** 20 ms frames of `pcm` whose level is under 3/4 of the median frame's: a frame concealed (repeated at half level) or silent. */
function weakFrames(pcm: Int16Array, rate: number): number[] {
  const n = rate / 50;
  const levels: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) levels.push(rms(pcm, i, n));
  const median = [...levels].sort((x, y) => x - y)[levels.length >> 1];
  return levels.flatMap((l, i) => (l < 0.75 * median ? [i] : []));
}

/** Frames the mixer encoded for a listener, but for silence filled in while forwarding. */
const mixedFrames = (p: ParticipantView): number => p.encoded - p.silenceFilled;

describe('two-party forwarding (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    // The room runs on a media thread (as in production), not on this test's thread, whose RTP peers
    // would otherwise stall with the room's clock whenever the loaded machine stalls this process.
    engine = await startEngine({ threads: 1 });
  });
  after(() => engine.close());

  it('a prompt and a third leg take over from forwarding and hand back: each stream continuous, no dropout, no encoding while forwarded', () => inRoom(engine, 'forward', async (room, join) => {
    const { a, b, parts } = await forwardedPair(engine, room, join);
    const from = [a.peer.received.length, b.peer.received.length];
    const clockFrom = { ...room.mixerStats };
    const sinceMs = performance.now() - 100;

    // Forwarded: packets keep coming, no encoder runs for either listener (but
    // for silence, should the machine's load stall a peer's sender for 60 ms).
    const encoded = parts.map(mixedFrames);
    await forwarded(engine, parts, 25);
    assert.deepEqual(parts.map(mixedFrames), encoded, 'no frame mixed and encoded while forwarding');

    // A 1 s prompt: mixed while it plays, forwarded again after it.
    const prompt = new ToneSource(700, room.mixerSampleRate, 50, 4000);
    room.play(prompt);
    await untilStats(engine, 'the prompt mixed in', () => parts.every((p, i) => p.encoded >= encoded[i] + 50));
    await forwarded(engine, parts, 25);

    // A third leg joins (mixed) and leaves (forwarded again).
    await engine.nextStats();
    const encodedBeforeC = parts.map((p) => p.encoded);
    const c = await join(room, { codec: 'PCMU', id: 'c' });
    await collect(c.peer, 25);
    await engine.nextStats();
    assert.ok(parts.every((p, i) => p.encoded > encodedBeforeC[i] + 20), 'three legs are mixed');
    c.leg.close();
    await c.peer.close();
    await forwarded(engine, parts, 25);
    const to = [a.peer.received.length, b.peer.received.length];

    for (const [peer, talker, k, hz, name] of [[a.peer, b.peer, 0, 1000, 'a'], [b.peer, a.peer, 1, 440, 'b']] as const) {
      const d = disturbance(talker, sinceMs, clockFrom, room.mixerStats);
      assertOneStream(peer, from[k], 160, name, d);
      const pcm = peer.decoded(from[k]).subarray(0, (to[k] - from[k]) * 160);
      assert.ok(medianToneShare(pcm, hz, 8000) > 0.5, `${name} hears the other's ${hz} Hz (${medianToneShare(pcm, hz, 8000).toFixed(2)})`);
      const dropout = longestDropout(pcm, 8000);
      // One frame (a concealed late packet); while the talker sent nothing or the room's clock was stalled,
      // the silence the room filled in for as long as the control measured (no more).
      const allowed = 1 + Math.ceil(d.longestGapMs / 20) * Math.sign(d.senderGaps) + d.lateTicks + d.skipped;
      assert.ok(dropout <= allowed, `${name}: a dropout of ${dropout} frames, ${allowed} allowed (the control: ${JSON.stringify(d)}; talker's sender ${JSON.stringify(talker.pacer.stats)}): ${envelope(pcm, 8000)}`);
    }
  }));

  // Each peer's network swaps each pair of its packets (a frame of jitter). While forwarded, the listener's own jitter
  // buffer takes that up. At a hand-back the talker's buffer in the room, emptied of what the listener heard, used to
  // underrun on the late packet: the listener got that frame concealed (the last one again at half level), a frame
  // more of silence per frame of depth to regain. The mix now waits for it (TwoPartyForwarder.slips), and for the
  // first of a pair that a tick fell between (waitsFor: it was played lost, silent); the first of a pair split by the
  // hand-back's tick goes to the listener as it comes (late: it was a hole in the listener's stream).
  it('on a jittery network, each hand-back to the mixer (a prompt, a third leg) goes on without a concealed or silent frame, on one timeline', () => inRoom(engine, 'forward-jitter', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a', reorder: true });
    const b = await join(room, { codec: 'PCMU', id: 'b', reorder: true });
    const parts = [a.leg.mixerParticipant!, b.leg.mixerParticipant!];
    a.peer.setTone(440);
    b.peer.setTone(1000);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    await forwarded(engine, parts, 20);
    const from = [a.peer.received.length, b.peer.received.length];
    const clockFrom = { ...room.mixerStats };
    const sinceMs = performance.now() - 100;
    await engine.nextStats();
    const toMixed = room.forwardStats.toMixed;

    // Prompts too quiet to change the level each hears (the other's tone alone), mixed while they play. A hand-back
    // meets the late packet or not as the tick falls against the pairs: six of them, each started 10 ms later against
    // the stream than the one before, and a third leg's below.
    for (let i = 0; i < 6; i++) {
      await engine.nextStats();
      await new Promise((r) => setTimeout(r, 10 * i));
      const encoded = parts.map((p) => p.encoded);
      room.play(new ToneSource(700, room.mixerSampleRate, 15, 1));
      await untilStats(engine, 'the prompt mixed in', () => parts.every((p, k) => p.encoded >= encoded[k] + 10));
      await forwarded(engine, parts, 15);
    }
    // A third leg (silent) joins and leaves.
    const c = await join(room, { codec: 'PCMU', id: 'c' });
    await collect(c.peer, 25);
    c.leg.close();
    await c.peer.close();
    await forwarded(engine, parts, 20);
    await engine.nextStats();
    assert.ok(room.forwardStats.toMixed >= toMixed + 7, 'handed back to the mixer seven times');
    const to = [a.peer.received.length, b.peer.received.length];
    // The packets on their way then (the second of a pair) come before the next pair's.
    await Promise.all([a.peer.waitForPackets(to[0] + 4), b.peer.waitForPackets(to[1] + 4)]);
    await engine.nextStats();

    for (const [peer, talker, k, hz, name] of [[a.peer, b.peer, 0, 1000, 'a'], [b.peer, a.peer, 1, 440, 'b']] as const) {
      const d = disturbance(talker, sinceMs, clockFrom, room.mixerStats);
      assertOneStream(peer, from[k], 160, name, d, to[k]);
      const got = reorderedBetween(peer, from[k], to[k]);
      const pcm = decodePcmu(got);
      assert.ok(medianToneShare(pcm, hz, 8000) > 0.5, `${name} hears the other's ${hz} Hz (${medianToneShare(pcm, hz, 8000).toFixed(2)})`);
      // None on an idle machine. Under load: each frame that reached the listener while the talker's own packets
      // were late (from when the first was due to 40 ms after the last went: the room's tick and the listener's
      // receive behind it), for the room had nothing of the talker's for it (silence filled in, or a frame
      // concealed); and as many more as ticks the room's clock ran late or skipped (its thread stalled).
      const weak = weakFrames(pcm, 8000);
      const senderLate = (i: number): boolean => d.senderLate.some((s) => got[i].at >= s.fromMs && got[i].at <= s.toMs + 40);
      const unexcused = weak.filter((i) => !senderLate(i));
      const where = (i: number): string => `${i} (at ${(got[i].at - sinceMs).toFixed(0)} ms)`;
      const late = d.senderLate.map((s) => `${(s.fromMs - sinceMs).toFixed(0)}-${(s.toMs - sinceMs).toFixed(0)}`);
      assert.ok(unexcused.length <= d.lateTicks + d.skipped, `${name}: frames ${weak.map(where).join(', ')} of ${pcm.length / 160} concealed or silent; ${unexcused.length} of them not while the talker's packets were late (ms ${late.join(', ')}), ${d.lateTicks + d.skipped} allowed for the room's stalled clock (the control: ${JSON.stringify({ ...d, senderLate: late.length })}): ${envelope(pcm, 8000)}`);
    }
  }));

  it('an Opus call is forwarded: the payload decodes to the talker\'s tone, timestamps 960 apart', () => inRoom(engine, 'forward-opus', async (room, join) => {
    const a = await join(room, { codec: 'opus', id: 'a' });
    const b = await join(room, { codec: 'opus', id: 'b' });
    const parts = [a.leg.mixerParticipant!, b.leg.mixerParticipant!];
    a.peer.setTone(600);
    await waitForSound(b.peer);
    await forwarded(engine, parts, 5);
    const from = b.peer.received.length;
    const clockFrom = { ...room.mixerStats };
    const sinceMs = performance.now() - 100;
    const encoded = parts.map(mixedFrames);
    await forwarded(engine, parts, 50);
    assert.deepEqual(parts.map(mixedFrames), encoded, 'no Opus frame mixed and encoded while forwarding');
    assertOneStream(b.peer, from, 960, 'b', disturbance(a.peer, sinceMs, clockFrom, room.mixerStats));
    // Judged frame by frame (the median over 20 ms frames): a pause of the talker on a loaded machine
    // (silence filled in by Parley's own encoder, then the talker's frames again) disturbs the frames
    // around it, and a 100 ms window holds five of them.
    const heard = b.peer.decoded(from);
    const share = medianToneShare(heard, 600, 16000, 20);
    assert.ok(share > 0.8, `b hears a's 600 Hz (${share.toFixed(2)} of the median frame)`);
  }));
});
