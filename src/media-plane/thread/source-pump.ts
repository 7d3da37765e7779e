// Main-thread ends of the rings: SourcePump keeps a FrameSource's FrameRing
// filled ~160 ms ahead of the media thread; SinkDrain hands a TickSink the
// ticks the thread wrote into its TickRing. Both are run by timers of the
// MediaThreadHandle (never once per frame by a message). Their rings come from
// the handle's RingPool and go back to it when they are done (ring-pool.ts: used
// again only once the thread's end has let go too).
import type { FrameSource, MixTick, TickSink } from '../../mixer/frames.ts';
import { FrameRing } from './frame-ring.ts';
import type { RingPool } from './ring-pool.ts';
import { TickRecord, TickRing } from './tick-ring.ts';

/** Frames kept ahead of the thread (300 ms: the main thread may stall during call setup), and the ring's size. */
const AHEAD_FRAMES = 15;
const RING_FRAMES = 20;

export class SourcePump {
  readonly ring: FrameRing;
  private ended = false;
  private finished = false;
  private release: () => void = () => undefined;

  constructor(
    readonly id: number,
    readonly source: FrameSource,
    readonly sampleRate: number,
    readonly legId: string | null,
    /** The source was stopped on the main thread: the thread must drop what is buffered. */
    clear: (pump: SourcePump) => void,
    private readonly pool: RingPool,
  ) {
    const n = (sampleRate * 20) / 1000;
    this.ring = new FrameRing(pool.take(FrameRing.bytesFor(RING_FRAMES, n)), n);
    // A Player reports its natural end once the thread has played its last frame, and a stop at once.
    source.holdFinish?.(
      new Promise<void>((resolve) => (this.release = resolve)),
      () => {
        if (!this.finished) clear(this);
      },
    );
  }

  get done(): boolean {
    return this.finished;
  }

  /** Tops the ring up to AHEAD_FRAMES. */
  fill(): void {
    if (this.finished) return;
    const ring = this.ring;
    // A source still loading is not pulled ahead (the thread plays silence meanwhile):
    // its audio then starts as soon as it is there, not behind buffered silence.
    while (!this.ended && ring.buffered < AHEAD_FRAMES && this.source.pending !== true) {
      const f = this.source.nextFrame();
      if (f === null) {
        this.ended = true;
        ring.end();
      } else ring.push(f);
    }
  }

  /** The thread played the last frame, or stopped the source (its leg or room closed, or its thread died). */
  finish(stopped: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.ended = true;
    if (stopped) this.source.stop();
    this.release();
    this.pool.give(this.ring.buffer);
  }
}

export class SinkDrain {
  readonly ring: TickRing;
  /** Slots the thread named itself (hub inputs), by number. */
  private readonly extra = new Map<number, string>();
  private droppedSeen = 0;
  private closed = false;
  /** Reused for every tick handed over (the sinks copy what they keep during writeTick). */
  private readonly rec = new TickRecord();
  private readonly legs = new Map<string, Int16Array | null>();
  private readonly tick: { timeMs: number; mix: Int16Array; legs: Map<string, Int16Array | null> } = { timeMs: 0, mix: new Int16Array(0), legs: this.legs };

  constructor(
    readonly id: number,
    readonly sink: TickSink,
    readonly sampleRate: number,
    ringBytes: number,
    /** A leg's name by the slot main gave it. */
    private readonly legOf: (slot: number) => string | undefined,
    private readonly pool: RingPool,
  ) {
    this.ring = new TickRing(pool.take(TickRing.bytesFor(ringBytes)));
  }

  /** Main reads the ring no more (the sink was removed, its room closed): it goes back to the pool. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.give(this.ring.buffer);
  }

  nameSlot(slot: number, legId: string): void {
    this.extra.set(slot, legId);
  }

  /** Ticks the thread dropped since the last call (ring full). */
  newlyDropped(): number {
    const d = this.ring.dropped;
    const n = d - this.droppedSeen;
    this.droppedSeen = d;
    return n;
  }

  /**
   * Hands the sink every tick in the ring. A record naming a slot not yet
   * announced waits for the announcement (it is on its way), except on the
   * last drain, where that leg's frame is left out.
   */
  drain(last: boolean): void {
    if (this.closed) return;
    const { rec, legs, tick } = this;
    while (this.ring.peek(rec)) {
      // The same legs as the last tick (the usual case) are set over their entries: a
      // Map's clear() makes a new table, an allocation per tick. Cleared only when a leg
      // of the last tick is not in this one (then the map holds more keys than were set).
      let named = 0;
      for (let i = 0; i < rec.count; i++) {
        const slot = rec.slots[i]!;
        const name = this.legOf(slot) ?? this.extra.get(slot);
        if (name === undefined) {
          if (!last) return;
          continue;
        }
        legs.set(name, rec.frames[i]!);
        named++;
      }
      if (legs.size !== named) this.nameLegs();
      this.ring.advance();
      tick.timeMs = rec.timeMs;
      tick.mix = rec.mix;
      this.sink.writeTick(tick satisfies MixTick);
    }
  }

  /** `legs` holds exactly the named legs of the record peeked. */
  private nameLegs(): void {
    const { rec, legs } = this;
    legs.clear();
    for (let i = 0; i < rec.count; i++) {
      const slot = rec.slots[i]!;
      const name = this.legOf(slot) ?? this.extra.get(slot);
      if (name !== undefined) legs.set(name, rec.frames[i]!);
    }
  }
}
