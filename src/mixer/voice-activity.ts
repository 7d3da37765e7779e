// Talk detection on a leg's decoded input: frame energy against a threshold
// with an onset of 2 frames and a hangover of 25 (500 ms), so short pauses
// between words do not flap the state.
const ONSET_FRAMES = 2;
const HANGOVER_FRAMES = 25;

export class VoiceActivity {
  talking = false;
  private above = 0;
  private below = 0;
  /** Mean square threshold: -40 dBFS by default. */
  private readonly threshold: number;

  constructor(thresholdDbfs = -40) {
    const amp = 32768 * Math.pow(10, thresholdDbfs / 20);
    this.threshold = amp * amp;
  }

  /** Feeds one frame (null = nothing received); returns true when the state changed. */
  update(frame: Int16Array | null, n: number): boolean {
    let loud = false;
    if (frame) {
      let e = 0;
      for (let i = 0; i < n; i += 2) e += frame[i] * frame[i];
      loud = e / (n >> 1) > this.threshold;
    }
    if (loud) {
      this.below = 0;
      if (!this.talking && ++this.above >= ONSET_FRAMES) {
        this.talking = true;
        return true;
      }
    } else {
      this.above = 0;
      if (this.talking && ++this.below >= HANGOVER_FRAMES) {
        this.talking = false;
        return true;
      }
    }
    return false;
  }
}
