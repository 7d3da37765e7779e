// A room whose rate follows its legs (RoomMixerOptions.autoNarrowband) may
// change rate while a prompt plays or a recorder runs. Each source and sink
// keeps its own rate (a Player's clip, a Recorder's WAV files cannot change
// theirs: both say it in their sampleRate); these wrappers resample between
// it and the room's current one, and are a plain pass-through while they match.
import { Resampler } from './codecs/resampler.ts';
import { samplesPerFrame, type FrameSource, type MixTick, type PcmFrame, type TickSink } from './frames.ts';

/** A FrameSource producing frames at `rate`, read by a room at `roomRate`. */
export class SourceAtRate {
  private resampler: Resampler | null = null;
  private out: Int16Array = new Int16Array(0);
  /** A short last frame, zero-padded to a whole one so the resampler can take it. */
  private readonly whole: Int16Array;

  constructor(
    readonly source: FrameSource,
    readonly rate: number,
    roomRate: number,
  ) {
    this.whole = new Int16Array(samplesPerFrame(rate));
    this.retune(roomRate);
  }

  retune(roomRate: number): void {
    this.resampler = roomRate === this.rate ? null : new Resampler(this.rate, roomRate);
    this.out = this.resampler ? new Int16Array(samplesPerFrame(roomRate)) : new Int16Array(0);
  }

  /** The source's next frame at the room's rate (valid until the next call), or null when it has finished. */
  nextFrame(): PcmFrame | null {
    const frame = this.source.nextFrame();
    if (!frame || !this.resampler) return frame;
    let input = frame;
    if (frame.length !== this.whole.length) {
      this.whole.fill(0);
      this.whole.set(frame.subarray(0, this.whole.length));
      input = this.whole;
    }
    this.resampler.process(input, this.out);
    return this.out;
  }

  stop(): void {
    this.source.stop();
  }
}

/** A TickSink taking frames at `rate`, fed by a room at `roomRate`. */
export class SinkAtRate {
  private roomRate: number;
  private mix: Resampler | null = null;
  /** One resampler per leg: each leg's frames are a stream with its own history. */
  private readonly legs = new Map<string, Resampler>();

  constructor(
    readonly sink: TickSink,
    readonly rate: number,
    roomRate: number,
  ) {
    this.roomRate = roomRate;
    this.retune(roomRate);
  }

  /** Resampling, it reads the room's frames into its own; else the sink gets the room's. */
  get copiesFrames(): boolean {
    return this.mix !== null || this.sink.copiesFrames === true;
  }

  retune(roomRate: number): void {
    this.roomRate = roomRate;
    this.mix = roomRate === this.rate ? null : new Resampler(roomRate, this.rate);
    this.legs.clear();
  }

  writeTick(tick: MixTick): void {
    if (!this.mix) {
      this.sink.writeTick(tick);
      return;
    }
    // Fresh frames, like the room's own: a sink may keep them.
    const n = samplesPerFrame(this.rate);
    const mix = new Int16Array(n);
    this.mix.process(tick.mix, mix);
    const legs = new Map<string, PcmFrame | null>();
    for (const [id, frame] of tick.legs) {
      let r = this.legs.get(id);
      if (!r) this.legs.set(id, (r = new Resampler(this.roomRate, this.rate)));
      if (!frame) {
        legs.set(id, null);
        continue;
      }
      const out = new Int16Array(n);
      r.process(frame, out);
      legs.set(id, out);
    }
    for (const id of this.legs.keys()) if (!tick.legs.has(id)) this.legs.delete(id);
    this.sink.writeTick({ timeMs: tick.timeMs, mix, legs });
  }
}
