// A FrameSource's frames, from the main thread (where players, tones and
// prompts live) to the media thread that mixes them: a single-producer,
// single-consumer ring of whole frames in a SharedArrayBuffer. Main fills it
// ahead on a timer; the thread takes one frame per tick. No message per frame.
import type { PcmFrame } from '../../mixer/frames.ts';
import { detachRing } from './ring-pool.ts';

const WRITTEN = 0;
const READ = 1;
/** 1 once the writer has no more frames after WRITTEN. */
const ENDED = 2;
// Int 3: RING_DETACHED (ring-pool.ts), set by the reader when it lets go.
const HEADER_INTS = 4;

export class FrameRing {
  /** The SharedArrayBuffer size of a ring of `capacity` frames of `frameSamples` samples. */
  static bytesFor(capacity: number, frameSamples: number): number {
    return HEADER_INTS * 4 + capacity * frameSamples * 2;
  }

  readonly buffer: SharedArrayBuffer;
  private detached = false;
  readonly frameSamples: number;
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly data: Int16Array;

  constructor(bufferOrCapacity: SharedArrayBuffer | number, frameSamples: number) {
    this.frameSamples = frameSamples;
    if (typeof bufferOrCapacity === 'number') {
      this.buffer = new SharedArrayBuffer(FrameRing.bytesFor(bufferOrCapacity, frameSamples));
    } else this.buffer = bufferOrCapacity;
    this.header = new Int32Array(this.buffer, 0, HEADER_INTS);
    this.data = new Int16Array(this.buffer, HEADER_INTS * 4);
    this.capacity = Math.floor(this.data.length / frameSamples);
  }

  /** Frames written and not yet read. */
  get buffered(): number {
    return Atomics.load(this.header, WRITTEN) - Atomics.load(this.header, READ);
  }

  get ended(): boolean {
    return Atomics.load(this.header, ENDED) === 1;
  }

  // ---- writer (main thread) ----

  /** Appends one frame (shorter frames are zero-padded). False when full. */
  push(frame: PcmFrame): boolean {
    const w = Atomics.load(this.header, WRITTEN);
    if (w - Atomics.load(this.header, READ) >= this.capacity) return false;
    const n = this.frameSamples;
    const at = (w % this.capacity) * n;
    const len = Math.min(n, frame.length);
    this.data.set(len === frame.length ? frame : frame.subarray(0, len), at);
    if (len < n) this.data.fill(0, at + len, at + n);
    Atomics.store(this.header, WRITTEN, w + 1);
    return true;
  }

  /** No frame follows what was pushed: the reader plays them out, then ends. */
  end(): void {
    Atomics.store(this.header, ENDED, 1);
  }

  // ---- reader (media thread) ----

  /** Copies the next frame into `into`; false when none is buffered. */
  shift(into: Int16Array): boolean {
    if (this.detached) return false;
    const r = Atomics.load(this.header, READ);
    if (Atomics.load(this.header, WRITTEN) - r <= 0) return false;
    const n = this.frameSamples;
    const at = (r % this.capacity) * n;
    into.set(this.data.subarray(at, at + n));
    Atomics.store(this.header, READ, r + 1);
    return true;
  }

  /** Drops everything buffered (the source was stopped on the main thread). */
  clear(): void {
    if (this.detached) return;
    Atomics.store(this.header, READ, Atomics.load(this.header, WRITTEN));
    Atomics.store(this.header, ENDED, 1);
  }

  /** The reader will never read again: the main thread may hand the ring to another source (ring-pool.ts). Idempotent. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    detachRing(this.header);
  }
}
