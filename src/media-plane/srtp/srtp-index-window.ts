// One SRTP or SRTCP stream's packet index bookkeeping: the index estimate of
// RFC 3711 §3.3.1 (rollover counter from the 16-bit sequence number) and the
// replay list of §3.3.2. Preallocated; nothing is allocated per packet.

/** Replay window size in packets: RFC 3711 §3.3.2 asks for at least 64; libsrtp uses 128. */
export const REPLAY_WINDOW = 128;
const WORDS = REPLAY_WINDOW / 32;
const SEQ_MOD = 0x10000;
const HALF = 0x8000;

/** What check() says about an index. */
export const IndexCheck = {
  Fresh: 0,
  /** Seen before (RFC 3711 §3.3.2). */
  Replayed: 1,
  /** Left of the window, or before the stream began: cannot be told from a replay. */
  TooOld: 2,
} as const;
export type IndexCheck = (typeof IndexCheck)[keyof typeof IndexCheck];

export class SrtpIndexWindow {
  /** Highest index accepted so far (ROC · 2^16 + s_l); -1 until the first packet. */
  private top = -1;
  /** Bit (index mod REPLAY_WINDOW) set when that index, within the window, was accepted. */
  private readonly seen = new Uint32Array(WORDS);

  /** The highest accepted index, or -1. */
  get highest(): number {
    return this.top;
  }

  /**
   * RFC 3711 §3.3.1: the index of a packet with sequence number seq, guessed from the
   * highest accepted index (ROC - 1, ROC or ROC + 1, whichever puts seq within 2^15
   * of s_l). Before any packet the ROC is 0. Negative when the guess is ROC - 1 with
   * ROC 0 (a packet from before the stream's first one).
   */
  estimateIndex(seq: number): number {
    if (this.top < 0) return seq;
    const sl = this.top % SEQ_MOD;
    const roc = (this.top - sl) / SEQ_MOD;
    let v = roc;
    if (sl < HALF) {
      if (seq - sl > HALF) v = roc - 1;
    } else if (sl - HALF > seq) {
      v = roc + 1;
    }
    return v * SEQ_MOD + seq;
  }

  /** RFC 3711 §3.3.2: is this index new? Does not change anything. */
  check(index: number): IndexCheck {
    if (index < 0) return IndexCheck.TooOld;
    if (this.top < 0 || index > this.top) return IndexCheck.Fresh;
    if (this.top - index >= REPLAY_WINDOW) return IndexCheck.TooOld;
    const bit = index % REPLAY_WINDOW;
    return this.seen[bit >>> 5] & (1 << (bit & 31)) ? IndexCheck.Replayed : IndexCheck.Fresh;
  }

  /**
   * Records an index that passed check() and authentication. RFC 3711 §3.3: the ROC,
   * s_l and the replay list change only after a packet is authenticated.
   */
  accept(index: number): void {
    if (index > this.top) {
      const delta = this.top < 0 ? REPLAY_WINDOW : index - this.top;
      if (delta >= REPLAY_WINDOW) {
        this.seen.fill(0);
      } else {
        // Forget the slots the window slides over (they hold indexes REPLAY_WINDOW older).
        for (let i = this.top + 1; i < index; i++) {
          const b = i % REPLAY_WINDOW;
          this.seen[b >>> 5] &= ~(1 << (b & 31));
        }
      }
      this.top = index;
    }
    const bit = index % REPLAY_WINDOW;
    this.seen[bit >>> 5] |= 1 << (bit & 31);
  }
}
