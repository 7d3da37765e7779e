// The stereo file's frame: the caller on the left, everyone else summed on the
// right and clamped to 16 bits. One instance per recorder; its buffers are
// reused every tick (the media path allocates nothing here).
import type { PcmFrame } from '../mixer/frames.ts';

export class StereoFrame {
  private readonly right: Int32Array;
  private readonly out: Int16Array;
  private left: PcmFrame;

  constructor(
    private readonly n: number,
    private readonly silence: PcmFrame,
  ) {
    this.right = new Int32Array(n);
    this.out = new Int16Array(n * 2);
    this.left = silence;
  }

  /** Starts a tick: no left, an empty right. */
  reset(): void {
    this.right.fill(0);
    this.left = this.silence;
  }

  setLeft(frame: PcmFrame): void {
    this.left = frame;
  }

  addRight(frame: PcmFrame): void {
    const r = this.right;
    for (let i = 0; i < this.n; i++) r[i] += frame[i]!;
  }

  /** The interleaved frame (valid until the next reset). */
  interleave(): Int16Array {
    const { right, left, out } = this;
    for (let i = 0; i < this.n; i++) {
      const r = right[i]!;
      out[2 * i] = left[i]!;
      out[2 * i + 1] = r > 32767 ? 32767 : r < -32768 ? -32768 : r;
    }
    return out;
  }
}
