// A FrameSource that plays a tone for a number of frames (a stand-in for a prompt).
import type { FrameSource, PcmFrame } from '../../src/mixer/frames.ts';
import { samplesPerFrame } from '../../src/mixer/frames.ts';
import { tone } from './audio-analysis.ts';

export class ToneSource implements FrameSource {
  private n = 0;
  stopped = false;
  constructor(
    private readonly freq: number,
    private readonly rate: number,
    private readonly frames = Infinity,
    private readonly amplitude = 8000,
  ) {}
  nextFrame(): PcmFrame | null {
    if (this.stopped || this.n >= this.frames) return null;
    const len = samplesPerFrame(this.rate);
    return tone(this.freq, this.rate, len, this.amplitude, len * this.n++);
  }
  stop(): void {
    this.stopped = true;
  }
}
