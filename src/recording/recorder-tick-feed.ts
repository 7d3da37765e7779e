// A Recorder's tick, written: the mix to the mono WAV, each present leg's own
// input to that leg's stem (stems.ts), and a stereo frame (left: the caller leg,
// right: the sum of every other leg's input) to the stereo WAV. Notices played
// to one leg alone are added to the mix and to that leg's frames (notice-overlay.ts);
// a pause writes nothing (pauseMode 'skip') or silence, a mask silence.
// Every append is a memory copy (WavFileWriter); the frames are the tick's own or
// reused buffers: nothing is allocated per tick unless a frame has the wrong length
// or a notice plays.
import type { MixTick, PcmFrame } from '../mixer/frames.ts';
import type { Logger } from '../util/logger.ts';
import { NoticeOverlay } from './notice-overlay.ts';
import type { PauseMask } from './pause-mask.ts';
import type { RecorderLegs } from './recorder-legs.ts';
import type { Stems } from './stems.ts';
import { StereoFrame } from './stereo-frame.ts';
import type { WavFileWriter } from './wav-file-writer.ts';

const NO_LEGS: ReadonlyMap<string, PcmFrame | null> = new Map();

export interface RecorderTickFeedOptions {
  /** Samples per frame at the recording's rate. */
  n: number;
  mix: WavFileWriter;
  stereo: WavFileWriter | null;
  stems: Stems;
  legs: RecorderLegs;
  notices: NoticeOverlay;
  pauseMask: PauseMask;
  /** pauseMode 'skip': nothing is written while paused (else silence). */
  skipWhilePaused: boolean;
  log: Logger;
}

export class RecorderTickFeed {
  private readonly n: number;
  private readonly mix: WavFileWriter;
  private readonly stereo: WavFileWriter | null;
  private readonly stems: Stems;
  private readonly legs: RecorderLegs;
  private readonly notices: NoticeOverlay;
  private readonly pauseMask: PauseMask;
  private readonly skipWhilePaused: boolean;
  private readonly log: Logger;
  private readonly zeros: Int16Array;
  private readonly stereoFrame: StereoFrame;
  /** The tick write() is writing (legFrame's input). */
  private tickLegs: ReadonlyMap<string, PcmFrame | null> = NO_LEGS;
  private tickNotices: ReadonlyMap<string, PcmFrame> = NO_LEGS as ReadonlyMap<string, PcmFrame>;
  private tickSilent = false;
  private badFrames = 0;

  constructor(o: RecorderTickFeedOptions) {
    this.n = o.n;
    this.mix = o.mix;
    this.stereo = o.stereo;
    this.stems = o.stems;
    this.legs = o.legs;
    this.notices = o.notices;
    this.pauseMask = o.pauseMask;
    this.skipWhilePaused = o.skipWhilePaused;
    this.log = o.log;
    this.zeros = new Int16Array(o.n);
    this.stereoFrame = new StereoFrame(o.n, this.zeros);
  }

  /** Appends one tick to every file (its legs have joined already). */
  write(tick: MixTick): void {
    // Taken (and marked) even while paused: a notice is not written late.
    const notices = this.notices.take();
    const paused = this.pauseMask.isPaused;
    if (paused && this.skipWhilePaused) return;
    const silent = paused || this.pauseMask.isMasked;
    this.mix.append(silent ? this.zeros : notices.size === 0 ? this.fit(tick.mix) : NoticeOverlay.add(this.fit(tick.mix), notices, notices.keys()));
    // legFrame reads these (a closure made once, not one per tick).
    this.tickLegs = tick.legs;
    this.tickNotices = notices;
    this.tickSilent = silent;
    this.stems.append(this.legFrame);
    if (this.stereo) {
      const stereo = this.stereoFrame;
      stereo.reset();
      tick.legs.forEach(this.stereoLeg); // bound once: no iterator per tick
      this.stereo.append(stereo.interleave());
    }
    this.tickLegs = NO_LEGS;
  }

  private readonly stereoLeg = (_frame: PcmFrame | null, id: string): void => {
    const side = id === this.legs.caller ? 'left' : this.legs.side(id);
    if (side === 'none') return;
    const frame = this.legFrame(id);
    if (side === 'left') this.stereoFrame.setLeft(frame);
    else this.stereoFrame.addRight(frame);
  };

  /** `frames` ticks the room never handed over (Recorder.fillGap): silence in every file, or nothing while paused in 'skip' mode. */
  writeGap(frames: number): void {
    if (this.pauseMask.isPaused && this.skipWhilePaused) return;
    this.tickSilent = true;
    for (let i = 0; i < frames; i++) {
      this.mix.append(this.zeros);
      this.stems.append(this.legFrame);
      if (this.stereo) {
        this.stereoFrame.reset();
        this.stereo.append(this.stereoFrame.interleave());
      }
    }
    this.tickSilent = false;
  }

  /** A leg's frame of the tick being written: silence, its input, plus a notice played to it alone. */
  private readonly legFrame = (id: string): PcmFrame => {
    if (this.tickSilent) return this.zeros;
    const raw = this.tickLegs.get(id) ?? null;
    const frame = raw === null ? this.zeros : this.fit(raw);
    return this.tickNotices.size === 0 ? frame : NoticeOverlay.add(frame, this.tickNotices, [id]);
  };

  private fit(frame: PcmFrame): PcmFrame {
    if (frame.length === this.n) return frame;
    if (this.badFrames++ === 0) this.log.warn({ got: frame.length, want: this.n }, 'frame of wrong length padded');
    const out = new Int16Array(this.n);
    out.set(frame.subarray(0, this.n));
    return out;
  }
}
