// In-band DTMF detection (ITU-T Q.24 frequencies) with the Goertzel algorithm
// over a 40 ms window advanced by 20 ms, for legs that did not negotiate
// telephone-event. A frame holds a digit when one row and one column tone
// dominate the window's energy, the other rows/columns are 8 dB weaker and
// the twist is within ±10 dB; a digit starts after 2 such frames and is
// reported once when it stops.
import type { DtmfEvent } from './dtmf-event.ts';
import { DTMF_HIGH, DTMF_KEYPAD, DTMF_LOW } from './dtmf-keys.ts';
import { FRAME_MS } from '../mixer/frames.ts';

const MIN_RMS = 32768 * Math.pow(10, -36 / 20);

export class GoertzelDetector {
  private readonly coef: Float64Array;
  private readonly window: Float32Array;
  private readonly half: number;
  private readonly power = new Float64Array(8);
  private current: string | null = null;
  private candidate: string | null = null;
  private candidateFrames = 0;
  private missFrames = 0;
  private heldFrames = 0;

  constructor(
    sampleRate: number,
    private readonly onDigit: (e: DtmfEvent) => void,
  ) {
    this.half = (sampleRate * FRAME_MS) / 1000;
    this.window = new Float32Array(this.half * 2);
    this.coef = new Float64Array(8);
    const freqs = [...DTMF_LOW, ...DTMF_HIGH];
    for (let i = 0; i < 8; i++) this.coef[i] = 2 * Math.cos((2 * Math.PI * freqs[i]) / sampleRate);
  }

  /** Feeds one 20 ms frame (null: nothing received this tick). */
  process(frame: Int16Array | null): void {
    const w = this.window;
    const n = this.half;
    w.copyWithin(0, n, 2 * n);
    if (frame) for (let i = 0; i < n; i++) w[n + i] = frame[i];
    else w.fill(0, n, 2 * n);
    this.step(this.classify());
  }

  private classify(): string | null {
    const w = this.window;
    const N = w.length;
    let energy = 0;
    for (let i = 0; i < N; i++) energy += w[i] * w[i];
    if (energy / N < MIN_RMS * MIN_RMS) return null;
    for (let f = 0; f < 8; f++) {
      const c = this.coef[f];
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < N; i++) {
        const s0 = w[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      // Normalised so that a pure sine at f gives 1.
      this.power[f] = (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (N * energy);
    }
    const r = this.best(0);
    const c = this.best(4);
    const pr = this.power[r];
    const pc = this.power[4 + c];
    if (pr + pc < 0.7) return null;
    if (pr / pc > 10 || pc / pr > 10) return null;
    for (let i = 0; i < 4; i++) {
      if (i !== r && this.power[i] * 6.3 > pr) return null;
      if (i !== c && this.power[4 + i] * 6.3 > pc) return null;
    }
    return DTMF_KEYPAD[r][c];
  }

  private best(offset: number): number {
    let b = 0;
    for (let i = 1; i < 4; i++) if (this.power[offset + i] > this.power[offset + b]) b = i;
    return b;
  }

  private step(d: string | null): void {
    if (this.current !== null) {
      if (d === this.current) {
        this.heldFrames++;
        this.missFrames = 0;
        return;
      }
      if (++this.missFrames < 2) return;
      this.onDigit({ digit: this.current, durationMs: this.heldFrames * FRAME_MS, source: 'inband' });
      this.current = null;
      this.candidate = null;
      this.candidateFrames = 0;
    }
    if (d === null) {
      this.candidate = null;
      this.candidateFrames = 0;
      return;
    }
    if (d === this.candidate) this.candidateFrames++;
    else {
      this.candidate = d;
      this.candidateFrames = 1;
    }
    if (this.candidateFrames >= 2) {
      this.current = d;
      this.heldFrames = this.candidateFrames;
      this.missFrames = 0;
    }
  }
}
