// Int32 mix → Int16 with a soft limiter: a per-frame gain that drops at once
// when the frame's peak would clip and recovers slowly (release), then a soft
// knee above KNEE so any residual overshoot bends instead of being truncated.
const KNEE = 28000;
const HEADROOM = 32767 - KNEE;
const RELEASE = 0.05; // gain recovery per 20 ms frame toward 1

export class SoftLimiter {
  private gain = 1;

  /**
   * Writes src (Int32 accumulation) into dst as Int16; with `minus`, writes
   * src − minus (a listener's mix-minus without an extra pass to build it).
   */
  process(src: Int32Array, dst: Int16Array, n: number, minus: Int16Array | null = null): void {
    // One pass copies and finds the peak; only a frame that needs gain is written again.
    let peak = 0;
    if (minus) {
      for (let i = 0; i < n; i++) {
        const v = src[i] - minus[i];
        dst[i] = v;
        const a = v < 0 ? -v : v;
        if (a > peak) peak = a;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = src[i];
        dst[i] = v;
        const a = v < 0 ? -v : v;
        if (a > peak) peak = a;
      }
    }
    const needed = peak > KNEE ? KNEE / peak : 1;
    if (needed < this.gain) this.gain = needed;
    const g = this.gain;
    if (g !== 1 || peak > KNEE) {
      for (let i = 0; i < n; i++) {
        const v = (minus ? src[i] - minus[i] : src[i]) * g;
        if (v > KNEE) dst[i] = Math.round(KNEE + (HEADROOM * (v - KNEE)) / (HEADROOM + v - KNEE));
        else if (v < -KNEE) dst[i] = Math.round(-KNEE - (HEADROOM * (-v - KNEE)) / (HEADROOM - v - KNEE));
        else dst[i] = Math.round(v);
      }
    }
    if (this.gain < 1) this.gain = Math.min(1, this.gain + RELEASE * (1 - this.gain) + 0.001);
  }
}
