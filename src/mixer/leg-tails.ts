// The last of a leg that left a room with recorders: what its jitter buffer
// still held (20–100 ms of a live leg, up to a second of a record-only one),
// decoded at its close (MixerParticipant.close; a lost packet rebuilt from the next one's
// Opus FEC where it can be, as a live leg's is) and played in the room's next
// ticks as if the leg were still there: into the mix and into its own frame of
// the ticks handed to recorders (its stem), one frame per tick. Listeners hear
// it in the mix too, unless they already did: a leg forwarded to the other as
// its packets came (two-party) is in the recorders' ticks only. A room ending
// plays the tails out at once (RoomMixer.playOut). Nothing is allocated per
// tick: the frames were decoded once, at the close.
import { samplesPerFrame, type PcmFrame } from './frames.ts';
import { Resampler } from './codecs/resampler.ts';
import type { JitterBuffer } from './jitter-buffer.ts';
import type { InputPipeline } from './codecs/codec-pipeline.ts';
import { decodeSlot } from './slot-decode.ts';

/** A record-only buffer holds up to about a second (siprec.jitterMs): 64 frames bound any tail. */
const MAX_TAIL_FRAMES = 64;

/**
 * The frames a jitter buffer (draining) still plays, decoded at the room's frame
 * length `n`: a missing packet concealed, a timestamp gap (DTX) silence.
 */
export function decodeTail(jitter: JitterBuffer, pipe: InputPipeline, n: number): Int16Array[] {
  const frames: Int16Array[] = [];
  while (frames.length < MAX_TAIL_FRAMES && jitter.depth > 0) {
    const slot = jitter.pop();
    const f = new Int16Array(n);
    if (slot !== null) decodeSlot(pipe, jitter, slot, f);
    frames.push(f);
  }
  return frames;
}

/** Frames decoded at `from` Hz, at `to` (a room that changed rate): one resampler through them all, as they are one stream. */
export function retuneFrames(frames: Int16Array[], from: number, to: number): Int16Array[] {
  if (frames.length === 0 || from === to) return frames;
  const r = new Resampler(from, to);
  return frames.map((f) => {
    const out = new Int16Array(samplesPerFrame(to));
    r.process(f, out);
    return out;
  });
}

interface LegTail {
  id: string;
  frames: Int16Array[];
  next: number;
  /** Its input went into the room mix (not muted, hidden or directed). */
  mixed: boolean;
  /** Its listeners heard it already (forwarded): recorders only. */
  heard: boolean;
}

export class LegTails {
  private list: LegTail[] = [];

  get size(): number {
    return this.list.length;
  }

  add(id: string, frames: Int16Array[], mixed: boolean, heard: boolean): void {
    if (frames.length > 0) this.list.push({ id, frames, next: 0, mixed, heard });
  }

  /** Dropped (the room changes rate: the frames are at the old one; or it closes). */
  clear(): void {
    this.list = [];
  }

  /** Adds this tick's frame of every tail that goes into the mix to `total` (`heard`: only those the listeners heard already, for taking them out again with `sign` −1). */
  mix(total: Int32Array, sign: 1 | -1, heardOnly = false): void {
    for (const t of this.list) {
      if (!t.mixed || (heardOnly && !t.heard)) continue;
      const f = t.frames[t.next]!;
      const n = Math.min(f.length, total.length);
      for (let k = 0; k < n; k++) total[k] += sign * f[k]!;
    }
  }

  /**
   * This tick's frame of each tail, as its leg's frame of the tick handed to recorders (`copy`:
   * a fresh array), unless a live leg has its id (a party that took its place: the stem is the
   * live one's; the tail is still in the mix).
   */
  setLegs(legs: Map<string, PcmFrame | null>, copy: boolean): void {
    for (const t of this.list) if (!legs.has(t.id)) legs.set(t.id, copy ? t.frames[t.next]!.slice() : t.frames[t.next]!);
  }

  /** The tick is done: each tail moves to its next frame; the finished ones go. */
  advance(): void {
    let done = false;
    for (const t of this.list) if (++t.next >= t.frames.length) done = true;
    if (done) this.list = this.list.filter((t) => t.next < t.frames.length);
  }
}
