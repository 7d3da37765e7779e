// A TickSink in front of a recorder whose legs play a fixed delay behind (record-only
// legs: a SIPREC stream's deep jitter buffer, siprec.jitterMs): the silent ticks at the
// start, up to that delay, are not written, so a packet's audio lands in the file where
// it arrived in time (recorder start + its arrival), not that much later, and the file
// is as long as the session once the room plays the buffers out at the end. The first
// tick with any leg's audio ends the trim: a session shorter than the delay loses nothing.
import type { MixTick, TickSink } from '../mixer/frames.ts';

export class LeadInTrim implements TickSink {
  private left: number;

  constructor(
    private readonly sink: TickSink,
    delayMs: number,
  ) {
    this.left = Math.max(0, Math.floor(delayMs / 20));
  }

  get sampleRate(): number | undefined {
    return this.sink.sampleRate;
  }

  writeTick(tick: MixTick): void {
    if (this.left > 0) {
      let audio = false;
      for (const f of tick.legs.values()) if (f !== null) audio = true;
      if (!audio) {
        this.left--;
        return;
      }
      this.left = 0;
    }
    this.sink.writeTick(tick);
  }
}
