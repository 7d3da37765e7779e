// A room's recorders (TickSinks, each at its own rate: SinkAtRate) and the tick
// they are handed: the full mix through its own limiter, every leg's input
// (null: it sent nothing this tick) and the frame of each leg's tail
// (leg-tails.ts). When every sink copies what it keeps (a media thread's rings),
// one tick object, mix frame and legs map serve every tick: nothing is
// allocated per tick; else each tick gets fresh frames a sink may keep.
import type { Logger } from '../util/logger.ts';
import type { MixTick, PcmFrame, TickSink } from './frames.ts';
import type { LegTails } from './leg-tails.ts';
import type { MixerParticipant } from './mixer-participant.ts';
import { SinkAtRate } from './rate-adapters.ts';
import { SoftLimiter } from './soft-limiter.ts';

export class RoomSinks {
  private readonly sinks = new Map<TickSink, SinkAtRate>();
  /** Same sinks as an array, rebuilt on change, iterated on every tick (no Map iterator per tick). */
  private list: SinkAtRate[] = [];
  private readonly limiter = new SoftLimiter();
  /** The tick handed to sinks that copy (reused), the participant list its legs map follows, and whether the last one had tails. */
  private readonly tick: { timeMs: number; mix: Int16Array; legs: Map<string, PcmFrame | null> } = { timeMs: 0, mix: new Int16Array(0), legs: new Map() };
  private legsOf: MixerParticipant[] | null = null;
  private tailed = false;

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.list.length;
  }

  add(sink: TickSink, rate: number, roomRate: number): void {
    this.sinks.set(sink, new SinkAtRate(sink, rate, roomRate));
    this.list = [...this.sinks.values()];
  }

  remove(sink: TickSink): void {
    if (this.sinks.delete(sink)) this.list = [...this.sinks.values()];
  }

  clear(): void {
    this.sinks.clear();
    this.list = [];
  }

  /** The room's rate changed (between ticks). */
  retune(roomRate: number): void {
    for (const s of this.list) s.retune(roomRate);
  }

  /** Hands every sink the tick at `timeMs`: `total` (n samples) is the room's mix before limiting. */
  feed(timeMs: number, total: Int32Array, n: number, legs: MixerParticipant[], tails: LegTails): void {
    // The list as it is now: a sink removed during a write (its array is rebuilt) does not disturb this pass.
    const sinks = this.list;
    let reuse = true;
    for (let i = 0; i < sinks.length; i++) if (!sinks[i].copiesFrames) reuse = false;
    const tick = reuse ? this.reusedTick(timeMs, total, n, legs, tails) : this.freshTick(timeMs, total, n, legs, tails);
    for (let i = 0; i < sinks.length; i++) {
      try {
        sinks[i].writeTick(tick);
      } catch (err) {
        this.log.error({ err }, 'tick sink threw');
      }
    }
  }

  /** Fresh frames per tick: a sink may keep them (queue them to a file stream). */
  private freshTick(timeMs: number, total: Int32Array, n: number, list: MixerParticipant[], tails: LegTails): MixTick {
    const mix = new Int16Array(n);
    this.limiter.process(total, mix, n);
    const legs = new Map<string, PcmFrame | null>();
    for (const p of list) legs.set(p.id, p.hasInput ? p.input.slice() : null);
    tails.setLegs(legs, true);
    return { timeMs, mix, legs };
  }

  /** Every sink copies what it keeps during writeTick: one mix frame, legs map and tick object for all ticks, the legs' own input frames. */
  private reusedTick(timeMs: number, total: Int32Array, n: number, list: MixerParticipant[], tails: LegTails): MixTick {
    const t = this.tick;
    if (t.mix.length !== n) t.mix = new Int16Array(n);
    this.limiter.process(total, t.mix, n);
    const tailed = tails.size > 0;
    if (this.legsOf !== list || tailed || this.tailed) {
      // Legs joined or left (or a tail plays): the map follows the room's order, as a fresh one would.
      t.legs.clear();
      this.legsOf = list;
    }
    this.tailed = tailed;
    for (const p of list) t.legs.set(p.id, p.hasInput ? p.input : null);
    if (tailed) tails.setLegs(t.legs, false);
    t.timeMs = timeMs;
    return t;
  }
}
