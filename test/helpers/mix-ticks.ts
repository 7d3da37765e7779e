// Synthetic mixer ticks for recorder tests: each leg says a steady sine at its own
// frequency (phase-continuous across ticks); the mix is their clamped sum.
import { FRAME_MS, samplesPerFrame, type MixTick, type PcmFrame } from '../../src/mixer/frames.ts';

export class ToneRoom {
  private tick = 0;
  readonly n: number;
  /** Leg id → frequency (Hz); null makes the leg present but silent (no frame in time). */
  readonly legs = new Map<string, number | null>();

  constructor(
    readonly sampleRate: number,
    readonly amplitude = 0.25,
  ) {
    this.n = samplesPerFrame(sampleRate);
  }

  next(): MixTick {
    const legs = new Map<string, PcmFrame | null>();
    const mix = new Int16Array(this.n);
    const base = this.tick * this.n;
    for (const [id, hz] of this.legs) {
      if (hz === null) {
        legs.set(id, null);
        continue;
      }
      const f = new Int16Array(this.n);
      for (let i = 0; i < this.n; i++) {
        f[i] = Math.round(this.amplitude * 32767 * Math.sin((2 * Math.PI * hz * (base + i)) / this.sampleRate));
        mix[i] = Math.max(-32768, Math.min(32767, mix[i] + f[i]));
      }
      legs.set(id, f);
    }
    const t: MixTick = { timeMs: this.tick * FRAME_MS, mix, legs };
    this.tick++;
    return t;
  }

  /** Feeds `ms` of ticks to `sink`. */
  feed(sink: { writeTick(t: MixTick): void }, ms: number): void {
    for (let i = 0; i < ms / FRAME_MS; i++) sink.writeTick(this.next());
  }
}

/** Feeds a sink a room's ticks in real time (20 ms of room time per tick) until stopped. */
export function realTimeFeeder(sink: { writeTick(t: MixTick): void }, room: ToneRoom): { stop: () => void; ticks: () => number } {
  let n = 0;
  const t0 = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / FRAME_MS);
    while (n < due) {
      sink.writeTick(room.next());
      n++;
    }
  }, 10);
  return { stop: () => clearInterval(timer), ticks: () => n };
}
