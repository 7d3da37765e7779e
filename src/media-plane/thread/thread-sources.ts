// The media thread's ends of the SharedArrayBuffer rings: RingSource plays
// what a main-thread FrameSource pumps into its FrameRing; RingSink writes
// every tick of the room into a main-thread TickSink's TickRing.
import type { FrameSource, MixTick, PcmFrame, TickSink } from '../../mixer/frames.ts';
import type { Logger } from '../../util/logger.ts';
import { FrameRing } from './frame-ring.ts';
import { TickRing } from './tick-ring.ts';

export class RingSource implements FrameSource {
  readonly sampleRate: number;
  /** Ticks the main thread had not filled in time (played as silence). */
  underruns = 0;
  private readonly ring: FrameRing;
  /** Two frames in turn: the mixer may still hold the last one while the next is read. */
  private readonly frames: [Int16Array, Int16Array];
  private turn = 0;
  private done = false;

  constructor(
    readonly id: number,
    buffer: SharedArrayBuffer,
    sampleRate: number,
    private readonly finished: (source: RingSource, stopped: boolean) => void,
  ) {
    this.sampleRate = sampleRate;
    const n = (sampleRate * 20) / 1000;
    this.ring = new FrameRing(buffer, n);
    this.frames = [new Int16Array(n), new Int16Array(n)];
  }

  nextFrame(): PcmFrame | null {
    if (this.done) return null;
    this.turn ^= 1;
    const f = this.frames[this.turn]!;
    if (this.ring.shift(f)) return f;
    if (this.ring.ended) {
      this.done = true;
      this.finished(this, false);
      return null;
    }
    this.underruns++;
    f.fill(0);
    return f;
  }

  /** The room or leg it plays to closed. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.finished(this, true);
  }

  /** The main thread stopped it: what is buffered is not played. */
  clear(): void {
    this.ring.clear();
  }
}

export class RingSink implements TickSink {
  readonly sampleRate: number;
  /** writeTick copies the tick into the ring: the room may reuse its frames. */
  readonly copiesFrames = true;
  private readonly ring: TickRing;
  private slots = new Int32Array(8);
  private readonly frames: (Int16Array | null)[] = [];
  private lastDropLog = 0;

  constructor(
    readonly id: number,
    buffer: SharedArrayBuffer,
    sampleRate: number,
    /** The ring's number for a leg (main's, or a new one it is told of first). */
    private readonly slotOf: (legId: string, sink: RingSink) => number,
    private readonly log: Logger,
  ) {
    this.sampleRate = sampleRate;
    this.ring = new TickRing(buffer);
  }

  private at = 0;
  /** Bound once: no closure or iterator made per tick. */
  private readonly addLeg = (frame: PcmFrame | null, legId: string): void => {
    this.slots[this.at] = this.slotOf(legId, this);
    this.frames[this.at++] = frame;
  };

  writeTick(tick: MixTick): void {
    const n = tick.legs.size;
    if (n > this.slots.length) this.slots = new Int32Array(n * 2);
    this.frames.length = n;
    this.at = 0;
    tick.legs.forEach(this.addLeg);
    if (!this.ring.write(tick.timeMs, tick.mix, n, this.slots, this.frames)) {
      const now = Date.now();
      if (now - this.lastDropLog >= 1000) {
        this.lastDropLog = now;
        this.log.error({ sink: this.id, dropped: this.ring.dropped, timeMs: tick.timeMs }, 'recording ring full: tick dropped (the main thread is not draining)');
      }
    }
    this.frames.fill(null);
  }
}
