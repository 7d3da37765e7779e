// Notices played to one party alone (leg.play: the record notice to the caller,
// the whisper to the callee) are private to that leg, so the room's mix leaves
// them out. A recording must still prove that each party was told, so the
// recorder writes a notice into the mix and into the stem and stereo channel of
// the party that heard it, at the time it played. The tap sits between the
// prompt and the leg: every frame the mixer pulls for that leg is also queued
// here, and the recorder adds it at its next tick. The mixer pulls private
// sources after it fed its sinks, so a notice lands one tick (20 ms) after that
// party heard it. The other party never hears it: only the files get it.
import { Resampler } from '../mixer/codecs/resampler.ts';
import { samplesPerFrame, type FrameSource, type PcmFrame } from '../mixer/frames.ts';

/** Frames queued per leg at most (1 s): a recorder no longer fed by the room must not grow. */
const MAX_QUEUED = 50;

interface Tap {
  readonly legId: string;
  readonly prompt: string;
  readonly queue: PcmFrame[];
  resampler: Resampler | null;
  rate: number;
  marked: boolean;
  /** The source has finished or was stopped: forgotten once its queue is written. */
  ended: boolean;
}

export class NoticeOverlay {
  private readonly taps = new Set<Tap>();
  private readonly frames = new Map<string, PcmFrame>();
  private closed = false;

  constructor(
    /** The recorder's rate: tapped frames are resampled to it. */
    private readonly sampleRate: number,
    /** A notice's first frame is being written: the sidecar marks it here. */
    private readonly onFirstFrame: (prompt: string, legId: string) => void,
  ) {}

  /**
   * The source to play to `legId` instead of `source`: the same frames, also
   * queued for the recording. Stopping it stops `source`.
   */
  tap(source: FrameSource, legId: string, prompt: string): FrameSource {
    const rate = source.sampleRate ?? this.sampleRate;
    const tap: Tap = { legId, prompt, queue: [], resampler: null, rate, marked: false, ended: false };
    if (rate !== this.sampleRate) tap.resampler = new Resampler(rate, this.sampleRate);
    this.taps.add(tap);
    const out = this.sampleRate;
    const drop = (): void => {
      tap.ended = true;
      if (tap.queue.length === 0) this.taps.delete(tap);
    };
    return {
      sampleRate: source.sampleRate,
      get pending() {
        return source.pending;
      },
      nextFrame: () => {
        const frame = source.nextFrame();
        if (frame === null) {
          drop();
          return null;
        }
        if (!this.closed) {
          if (tap.queue.length >= MAX_QUEUED) tap.queue.shift();
          tap.queue.push(copyAt(frame, tap.rate, out, tap.resampler));
        }
        return frame;
      },
      stop: () => {
        source.stop();
        drop();
      },
      // A media thread plays the frames later than they are pulled: the player's end waits for them.
      ...(source.holdFinish ? { holdFinish: (heard: Promise<void>, stoppedEarly: () => void) => source.holdFinish!(heard, stoppedEarly) } : {}),
    };
  }

  /**
   * This tick's notice frame of each leg (sum of its notices), taken off the
   * queues; an empty map when nothing plays (the usual case). Marks first frames.
   */
  take(): ReadonlyMap<string, PcmFrame> {
    // Only when not empty: a Map's clear() makes a new table (an allocation per tick).
    if (this.frames.size > 0) this.frames.clear();
    if (this.taps.size === 0) return this.frames;
    // forEach with a bound function: no array or iterator made per tick (deleting the tap in it is safe).
    this.taps.forEach(this.takeOne);
    return this.frames;
  }

  private readonly takeOne = (tap: Tap): void => {
    const frame = tap.queue.shift();
    if (tap.ended && tap.queue.length === 0) this.taps.delete(tap);
    if (!frame) return;
    if (!tap.marked) {
      tap.marked = true;
      this.onFirstFrame(tap.prompt, tap.legId);
    }
    const have = this.frames.get(tap.legId);
    this.frames.set(tap.legId, have ? sum(have, frame) : frame);
  };

  /** `frame` plus the notice frames of `legIds` (a fresh frame), or `frame` itself when none is playing to them. */
  static add(frame: PcmFrame, notices: ReadonlyMap<string, PcmFrame>, legIds: Iterable<string>): PcmFrame {
    let out = frame;
    for (const id of legIds) {
      const n = notices.get(id);
      if (n) out = sum(out, n);
    }
    return out;
  }

  close(): void {
    this.closed = true;
    this.taps.clear();
    this.frames.clear();
  }
}

/** A copy of `frame` at the recorder's rate (a source's frames are reused by it). */
function copyAt(frame: PcmFrame, rate: number, out: number, resampler: Resampler | null): PcmFrame {
  const n = samplesPerFrame(rate);
  const whole = new Int16Array(n);
  whole.set(frame.subarray(0, n));
  if (!resampler) return whole;
  const res = new Int16Array(samplesPerFrame(out));
  resampler.process(whole, res);
  return res;
}

/** a + b clamped to 16 bits, as a new frame. */
function sum(a: PcmFrame, b: PcmFrame): PcmFrame {
  const out = new Int16Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]! + (b[i] ?? 0);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
