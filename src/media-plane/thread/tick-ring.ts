// A TickSink's ticks (a recorder's), from the media thread that mixes to the
// main thread that writes files: a single-producer, single-consumer ring of
// variable-length records in a SharedArrayBuffer. The thread writes one record
// per tick (time, the mix, each leg's frame or none, legs named by small
// numbers); main drains it on a timer. A full ring drops the tick and counts
// it (recordings are sacred: nothing is lost silently).
//
// Record, 8-byte aligned: int32 length in bytes (-1: wrap to the start),
// int32 leg count, float64 timeMs, int32 samples per frame, int32 pad, the mix
// (int16 × n, padded to 4), then per leg: int32 slot, int32 has-frame, and the
// frame when it has one (int16 × n, padded to 4).
import { detachRing } from './ring-pool.ts';

const HEAD = 0; // where the writer writes next (bytes into the data area)
const TAIL = 1; // where the reader reads next
const DROPPED = 2;
// Int 3: RING_DETACHED (ring-pool.ts), set by the writer when it lets go.
const HEADER_BYTES = 16;
const WRAP = -1;

/**
 * The reader's record: one instance, refilled by every peek (its buffers are
 * reused, so draining a ring allocates nothing per tick). Valid until the next peek.
 */
export class TickRecord {
  timeMs = 0;
  mix = new Int16Array(0);
  /** Legs in this record: slots[i] names frames[i] (null: that leg sent nothing). */
  count = 0;
  readonly slots: number[] = [];
  readonly frames: (Int16Array | null)[] = [];
  private readonly buffers: Int16Array[] = [];

  /** @internal A buffer of n samples for leg i (or the mix, i = -1). */
  buffer(i: number, n: number): Int16Array {
    if (i < 0) {
      if (this.mix.length !== n) this.mix = new Int16Array(n);
      return this.mix;
    }
    let b = this.buffers[i];
    if (b?.length !== n) this.buffers[i] = b = new Int16Array(n);
    return b;
  }
}

function pad4(bytes: number): number {
  return (bytes + 3) & ~3;
}
function pad8(bytes: number): number {
  return (bytes + 7) & ~7;
}

export class TickRing {
  /** The bytes of one record: a tick of `legs` legs, each with a frame of `n` samples (as the mix). */
  static recordBytes(n: number, legs: number): number {
    const frameBytes = pad4(n * 2);
    return pad8(24 + frameBytes + legs * (8 + frameBytes));
  }

  /** The SharedArrayBuffer size of a ring with `dataBytes` of room for records. */
  static bytesFor(dataBytes: number): number {
    return HEADER_BYTES + pad8(dataBytes);
  }

  readonly buffer: SharedArrayBuffer;
  private detached = false;
  private readonly header: Int32Array;
  private readonly bytes: number;
  private readonly view: DataView;
  private readonly i16: Int16Array;

  constructor(bufferOrBytes: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrBytes === 'number' ? new SharedArrayBuffer(TickRing.bytesFor(bufferOrBytes)) : bufferOrBytes;
    this.header = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.bytes = this.buffer.byteLength - HEADER_BYTES;
    this.view = new DataView(this.buffer, HEADER_BYTES);
    this.i16 = new Int16Array(this.buffer, HEADER_BYTES);
  }

  /** Ticks the writer had to drop because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.header, DROPPED);
  }

  // ---- writer (media thread) ----

  /**
   * Writes one tick. `legs` is read by index: slots[i] names frames[i]. Returns
   * false (and counts a drop) when the ring has no room for it.
   */
  write(timeMs: number, mix: Int16Array, count: number, slots: Int32Array, frames: readonly (Int16Array | null)[]): boolean {
    // Let go of: the ring may already be another sink's (ring-pool.ts).
    if (this.detached) return false;
    const n = mix.length;
    const frameBytes = pad4(n * 2);
    let len = 24 + frameBytes;
    for (let i = 0; i < count; i++) len += 8 + (frames[i] ? frameBytes : 0);
    len = pad8(len);
    const head = Atomics.load(this.header, HEAD);
    const tail = Atomics.load(this.header, TAIL);
    let at = head;
    // One byte always stays free, so head === tail means empty.
    if (head >= tail) {
      if (this.bytes - head >= len + (tail === 0 ? 8 : 0)) at = head;
      else if (tail > len) {
        this.view.setInt32(head, WRAP, true);
        at = 0;
      } else return this.drop();
    } else if (tail - head > len) at = head;
    else return this.drop();
    const v = this.view;
    v.setInt32(at, len, true);
    v.setInt32(at + 4, count, true);
    v.setFloat64(at + 8, timeMs, true);
    v.setInt32(at + 16, n, true);
    let p = at + 24;
    this.i16.set(mix, p >> 1);
    p += frameBytes;
    for (let i = 0; i < count; i++) {
      const f = frames[i];
      v.setInt32(p, slots[i]!, true);
      v.setInt32(p + 4, f ? 1 : 0, true);
      p += 8;
      if (f) {
        this.i16.set(f.length === n ? f : f.subarray(0, n), p >> 1);
        p += frameBytes;
      }
    }
    let next = at + len;
    if (next >= this.bytes) next = 0;
    Atomics.store(this.header, HEAD, next);
    return true;
  }

  /** The writer will never write again: the main thread may hand the ring to another sink (ring-pool.ts). Idempotent. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    detachRing(this.header);
  }

  private drop(): false {
    Atomics.add(this.header, DROPPED, 1);
    return false;
  }

  // ---- reader (main thread) ----

  /** The next record into `rec` (its audio copied), without consuming it; false when the ring is empty. */
  peek(rec: TickRecord): boolean {
    let tail = Atomics.load(this.header, TAIL);
    const head = Atomics.load(this.header, HEAD);
    if (tail === head) return false;
    const v = this.view;
    if (v.getInt32(tail, true) === WRAP) {
      tail = 0;
      Atomics.store(this.header, TAIL, 0);
      if (tail === head) return false;
    }
    const count = v.getInt32(tail + 4, true);
    rec.timeMs = v.getFloat64(tail + 8, true);
    const n = v.getInt32(tail + 16, true);
    const frameBytes = pad4(n * 2);
    let p = tail + 24;
    this.copy(p >> 1, rec.buffer(-1, n));
    p += frameBytes;
    rec.count = count;
    // Only when the number of legs changes (setting an array's length is not free).
    if (rec.slots.length !== count) {
      rec.slots.length = count;
      rec.frames.length = count;
    }
    for (let i = 0; i < count; i++) {
      rec.slots[i] = v.getInt32(p, true);
      const has = v.getInt32(p + 4, true) === 1;
      p += 8;
      let frame: Int16Array | null = null;
      if (has) {
        frame = rec.buffer(i, n);
        this.copy(p >> 1, frame);
        p += frameBytes;
      }
      rec.frames[i] = frame;
    }
    return true;
  }

  /** Samples from the ring into `out`: a loop (a view to set() from was an object per frame for the GC). */
  private copy(from: number, out: Int16Array): void {
    const src = this.i16;
    for (let i = 0, n = out.length; i < n; i++) out[i] = src[from + i]!;
  }

  /** Consumes the record peek() returned. */
  advance(): void {
    const tail = Atomics.load(this.header, TAIL);
    const len = this.view.getInt32(tail, true);
    let next = tail + len;
    if (next >= this.bytes) next = 0;
    Atomics.store(this.header, TAIL, next);
  }
}
