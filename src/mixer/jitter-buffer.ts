// A bounded, adaptive jitter buffer for one RTP input, in whole 20 ms packets
// (Parley answers ptime 20). Packets wait in preallocated slots until the
// buffered depth reaches the target delay; the target follows the RFC 3550
// interarrival jitter estimate (§6.4.1, A.8) within [minMs, maxMs] and grows
// by one frame after an underrun. Depth beyond target + 2 frames is shed by
// dropping the oldest packet, so latency cannot grow without limit. A stream whose
// packets hold several frames (Opus of 40 to 120 ms, split onto the 20 ms grid) brings
// them all at once: setBurst() tells it, and a depth of one packet's frames plus 2 is
// then not shed (a 120 ms packet arrives as 6 frames when the one before has just played).
// A record-only buffer (a leg nobody hears live: a SIPREC stream) trades
// latency for completeness: it plays at a fixed depth of maxMs (a stall or a
// burst up to that long is written in place), holds up to twice that, sheds
// nothing, and drain() plays out what is left when the leg ends. Its packets are
// placed by their RTP timestamps: a timestamp gap (silence suppression, DTX) is
// played as that much silence instead of closing up, so a recorded stream keeps
// its timeline against the others.
// Finding a packet by sequence number is constant time (a ring indexed by the
// low bits of the sequence number points at its slot), so a deep buffer costs
// no more per packet than a shallow one. Only the rare paths look at every slot:
// for the oldest (a lost packet, an overflow or a shed, the start of play), and
// for a packet the ring cannot point at (held packets a ring's size apart).
// A sequence number that will never bring a frame (an empty packet that came after the
// packets behind it were numbered: stream-splice.ts) is played over (skip()), not concealed.
import { FRAME_MS } from './frames.ts';

const MAX_PAYLOAD = 1500;
/** The most 20 ms frames one packet brings (120 ms of Opus). */
const MAX_BURST = 6;

export interface JitterSlot {
  seq: number;
  timestamp: number;
  payloadType: number;
  length: number;
  readonly data: Uint8Array;
  /** data's first `length` bytes: one view, made again only when the length changes. */
  payload: Uint8Array;
}

export interface JitterStats {
  received: number;
  late: number;
  duplicates: number;
  overflow: number;
  lost: number;
  underruns: number;
  shed: number;
  targetMs: number;
  jitterMs: number;
}

/** seq a minus seq b in the 16-bit sequence space, signed. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

export const LOST = Symbol('lost');

export class JitterBuffer {
  private readonly slots: JitterSlot[] = [];
  private readonly used: boolean[] = [];
  /** Free slot indexes, a stack: `free[0..freeTop)`. */
  private readonly free: Int32Array;
  private freeTop = 0;
  /** seq & ringMask → the index of the held slot with that sequence number, or -1. */
  private readonly ring: Int32Array;
  private readonly ringMask: number;
  /** Held packets the ring does not point at (their entry was another's: sequence numbers a multiple of the ring's size apart). */
  private unindexed = 0;
  private count = 0;
  private playing = false;
  private expected = 0;
  private targetFrames: number;
  private readonly minFrames: number;
  private readonly maxFrames: number;
  private jitter = 0;
  private lastTransit: number | null = null;
  private stableTicks = 0;
  private emptyTicks = 0;
  private draining = false;
  /** The missing packet pop(true) waited a tick for already (-1: none). */
  private waited = -1;
  /** Frames that arrive together (one packet's), at least 1. */
  private burst = 1;
  /** Sequence numbers that bring no frame, played over (skip(); -1: free), a ring as long as the buffer (as many may wait). */
  private readonly skips: Int32Array;
  private skipAt = 0;
  /** Record-only: the RTP timestamp the next tick plays, and one frame of it. */
  private playTs = 0;
  private readonly frameTs: number;
  readonly stats: JitterStats = { received: 0, late: 0, duplicates: 0, overflow: 0, lost: 0, underruns: 0, shed: 0, targetMs: 0, jitterMs: 0 };

  constructor(
    minMs: number,
    maxMs: number,
    private readonly clockRate: number,
    /** Fixed depth maxMs, room for twice that, no shedding (see above). */
    readonly recordOnly = false,
  ) {
    const min = Math.max(1, Math.round(minMs / FRAME_MS));
    this.maxFrames = Math.max(min, Math.round(maxMs / FRAME_MS));
    this.minFrames = recordOnly ? this.maxFrames : min;
    this.targetFrames = this.minFrames;
    this.frameTs = clockRate / 50;
    // Room for a 120 ms packet's 6 frames (RFC 7587 §4.2: the longest) however shallow the buffer.
    const capacity = recordOnly ? 2 * this.maxFrames + 3 : Math.max(this.maxFrames, MAX_BURST) + 3;
    // One backing store for all slots (a leg's setup makes one allocation, not one per slot).
    const store = new Uint8Array(capacity * MAX_PAYLOAD);
    for (let i = 0; i < capacity; i++) {
      const data = store.subarray(i * MAX_PAYLOAD, (i + 1) * MAX_PAYLOAD);
      this.slots.push({ seq: 0, timestamp: 0, payloadType: 0, length: 0, data, payload: data.subarray(0, 0) });
      this.used.push(false);
    }
    this.free = new Int32Array(capacity);
    this.skips = new Int32Array(capacity);
    let ringSize = 1;
    while (ringSize < 2 * capacity) ringSize <<= 1;
    this.ring = new Int32Array(ringSize);
    this.ringMask = ringSize - 1;
    this.clear();
  }

  get depth(): number {
    return this.count;
  }

  get targetMs(): number {
    return this.targetFrames * FRAME_MS;
  }

  /** Sequence number of the packet to play next (after a LOST, the lost one's plus one). */
  get nextSeq(): number {
    return this.expected;
  }

  /** The stream's packets now hold `frames` 20 ms frames each (they come together: see above). */
  setBurst(frames: number): void {
    this.burst = Math.min(MAX_BURST, Math.max(1, frames));
  }

  /** Stores a packet; false when it came too late, twice, or was too large. */
  push(seq: number, timestamp: number, payloadType: number, payload: Uint8Array, arrivalMs: number): boolean {
    this.stats.received++;
    const length = payload.length;
    if (length > MAX_PAYLOAD) return false;
    this.updateJitter(timestamp, arrivalMs);
    if (this.playing && seqDiff(seq, this.expected) < 0) {
      this.stats.late++;
      return false;
    }
    if (this.find(seq) >= 0) {
      this.stats.duplicates++;
      return false;
    }
    if (this.count === this.slots.length) {
      // Full: the oldest packet goes; bounded memory and delay.
      const oldest = this.oldestIndex();
      this.stats.overflow++;
      this.remove(oldest);
      if (this.playing) this.expected = (this.slots[oldest].seq + 1) & 0xffff;
    }
    const i = this.free[--this.freeTop];
    const slot = this.slots[i];
    slot.seq = seq;
    slot.timestamp = timestamp;
    slot.payloadType = payloadType;
    slot.length = length;
    slot.data.set(payload);
    if (slot.payload.length !== length) slot.payload = slot.data.subarray(0, length);
    this.used[i] = true;
    this.count++;
    const r = seq & this.ringMask;
    if (this.ring[r] < 0) this.ring[r] = i;
    else this.unindexed++;
    return true;
  }

  /**
   * The packet to play this tick: a slot (valid until the next push), LOST when
   * the next packet is missing but later ones are here, or null (nothing to play).
   * `waitForGap`: a missing next packet with later ones here is waited for one tick
   * (null) before it is LOST: one overtaken on the network (reordered) comes next.
   */
  pop(waitForGap = false): JitterSlot | typeof LOST | null {
    if (!this.playing) {
      if (this.count === 0 || (this.count < this.targetFrames && !this.draining)) return null;
      this.playing = true;
      const first = this.slots[this.oldestIndex()];
      this.expected = first.seq;
      this.playTs = first.timestamp;
    }
    if (this.count === 0) {
      // Underrun: the next packet is late, not lost. Keep waiting for it (the
      // delay grows by this frame) and aim deeper from now on.
      this.stats.underruns++;
      this.stableTicks = 0;
      if (this.targetFrames < this.maxFrames) this.targetFrames++;
      this.stats.targetMs = this.targetMs;
      this.playTs = (this.playTs + this.frameTs) >>> 0;
      if (++this.emptyTicks * FRAME_MS > 200) this.playing = false; // the stream paused (DTX, hold): rebuffer
      return null;
    }
    this.emptyTicks = 0;
    this.adapt();
    if (this.count > Math.max(this.targetFrames, this.burst) + 2 && !this.recordOnly) {
      // Too deep (a burst arrived): shed the oldest to bring latency back.
      const o = this.oldestIndex();
      this.remove(o);
      this.stats.shed++;
      this.expected = (this.slots[o].seq + 1) & 0xffff;
    }
    let found = this.find(this.expected);
    // A number that brings no frame is played over: the next one plays this tick.
    while (found < 0 && this.skipped(this.expected)) {
      this.expected = (this.expected + 1) & 0xffff;
      found = this.find(this.expected);
    }
    if (found < 0) {
      const oldest = this.oldestIndex();
      const gap = seqDiff(this.slots[oldest].seq, this.expected);
      if (gap > 0 && gap <= this.slots.length) {
        if (waitForGap && this.waited !== this.expected) {
          this.waited = this.expected;
          return null;
        }
        this.expected = (this.expected + 1) & 0xffff;
        this.stats.lost++;
        this.playTs = (this.playTs + this.frameTs) >>> 0;
        return LOST;
      }
      // A jump in the sequence (new stream, long gap): resynchronise.
      found = oldest;
    }
    if (this.recordOnly) {
      // The next packet is timestamped ahead of this tick (the sender was silent,
      // DTX): this tick is silence. A jump of more than 10 s is a new timeline: play on.
      const ahead = (this.slots[found].timestamp - this.playTs) | 0;
      if (ahead >= this.frameTs && ahead < 10 * this.clockRate) {
        this.playTs = (this.playTs + this.frameTs) >>> 0;
        return null;
      }
      this.playTs = (this.slots[found].timestamp + this.frameTs) >>> 0;
    }
    this.remove(found);
    this.expected = (this.slots[found].seq + 1) & 0xffff;
    return this.slots[found];
  }

  /** Sequence number `seq` will bring no frame (see above): pop() plays over it, unless a packet of that number is here. */
  skip(seq: number): void {
    if (this.playing && seqDiff(seq, this.expected) < 0) return; // concealed already
    this.skips[this.skipAt] = seq;
    this.skipAt = (this.skipAt + 1) % this.skips.length;
  }

  /**
   * The packet the next pop() plays when it is here (after a LOST: the one after the
   * lost packet, whose Opus in-band FEC may rebuild it), left in place; else null.
   */
  peekNext(): JitterSlot | null {
    if (!this.playing || this.count === 0) return null;
    const i = this.find(this.expected);
    return i >= 0 ? this.slots[i] : null;
  }

  /**
   * The packets waiting to play, next first, left in place: at a switch to
   * forwarding they go on to the listener at once (it heard everything before them).
   */
  waiting(): JitterSlot[] {
    const out: JitterSlot[] = [];
    for (let i = 0; i < this.slots.length; i++) if (this.used[i]) out.push(this.slots[i]);
    return out.sort((a, b) => seqDiff(a.seq, b.seq));
  }

  /**
   * Drops the packets older than `seq` (the listener heard them forwarded);
   * play goes on from `seq`, or the first packet after it. Returns whether
   * `seq` itself waits here: it then plays at the next pop(), without waiting
   * for the target depth (the listener is hearing this stream already).
   */
  dropBefore(seq: number): boolean {
    for (let i = 0; i < this.slots.length; i++) {
      if (this.used[i] && seqDiff(this.slots[i].seq, seq) < 0) this.remove(i);
    }
    if (this.playing && seqDiff(this.expected, seq) < 0) this.expected = seq;
    const held = this.find(seq);
    if (held < 0) return false;
    if (!this.playing) {
      this.playing = true;
      this.expected = seq;
      this.playTs = this.slots[held].timestamp;
    }
    return true;
  }

  /** The leg ends: what is buffered plays from now on without waiting for the target depth. */
  drain(): void {
    this.draining = true;
  }

  reset(): void {
    this.clear();
    this.playing = false;
    this.lastTransit = null;
  }

  /** Whether `seq` was skip()ped (then forgotten: it is played over once). */
  private skipped(seq: number): boolean {
    let found = false;
    for (let i = 0; i < this.skips.length; i++) {
      const e = this.skips[i];
      if (e < 0) continue;
      if (e === seq) found = true;
      // Behind play (or this one, played over now): forgotten, so a number 65536 later is not taken for it.
      if (e === seq || seqDiff(e, seq) < 0) this.skips[i] = -1;
    }
    return found;
  }

  /** Every slot free, the ring empty. */
  private clear(): void {
    this.skips.fill(-1);
    for (let i = 0; i < this.used.length; i++) this.used[i] = false;
    // Slot 0 is handed out first.
    for (let i = 0; i < this.free.length; i++) this.free[i] = this.free.length - 1 - i;
    this.freeTop = this.free.length;
    this.ring.fill(-1);
    this.unindexed = 0;
    this.count = 0;
  }

  /** The index of the held slot with sequence number `seq`, or -1. */
  private find(seq: number): number {
    const i = this.ring[seq & this.ringMask];
    if (i >= 0 && this.slots[i].seq === seq) return i;
    if (this.unindexed === 0) return -1;
    for (let j = 0; j < this.slots.length; j++) if (this.used[j] && this.slots[j].seq === seq) return j;
    return -1;
  }

  /** Frees held slot `i` (its contents stay readable until the next push). */
  private remove(i: number): void {
    this.used[i] = false;
    this.count--;
    this.free[this.freeTop++] = i;
    const r = this.slots[i].seq & this.ringMask;
    if (this.ring[r] === i) this.ring[r] = -1;
    else this.unindexed--;
  }

  private oldestIndex(): number {
    let oldest = -1;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.used[i] && (oldest < 0 || seqDiff(this.slots[i].seq, this.slots[oldest].seq) < 0)) oldest = i;
    }
    return oldest;
  }

  private updateJitter(timestamp: number, arrivalMs: number): void {
    const transit = arrivalMs - (timestamp * 1000) / this.clockRate;
    if (this.lastTransit !== null) {
      let d = Math.abs(transit - this.lastTransit);
      if (d > 1000) d = 0; // a timestamp jump, not jitter
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.stats.jitterMs = this.jitter;
  }

  /** Follows the jitter estimate; shrinks only after 5 s without underrun. */
  private adapt(): void {
    const wanted = Math.ceil((3 * this.jitter) / FRAME_MS);
    const floor = Math.min(this.maxFrames, Math.max(this.minFrames, wanted));
    if (floor > this.targetFrames) this.targetFrames = floor;
    else if (++this.stableTicks >= 250 && this.targetFrames > floor) {
      this.targetFrames--;
      this.stableTicks = 0;
    }
    this.stats.targetMs = this.targetMs;
  }
}
