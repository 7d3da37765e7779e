// A WAV file written for crash safety without blocking the media tick, and
// without any synchronous file call:
// - append() copies samples into memory only (no syscall on the tick);
// - flush() (the Recorder's timer, every flushIntervalMs) starts one pass that
//   writes what is buffered with positional async writes (short writes continue
//   where the kernel stopped), then rewrites the RIFF and data sizes for the
//   whole sample frames on disk, so the header never claims data that is not
//   there. One pass in flight per file; appends meanwhile stay in memory. A
//   kill -9 loses at most what was still in memory. With `headerEveryPasses`
//   above 1 (the Recorder: a header at most every ~500 ms) the header is
//   rewritten only every that many passes (and always after a failure, on
//   recovery and at close): fewer writes, a header that may claim up to that
//   many passes less than the disk holds until close or the next start's repair.
// - the file side (where data and header stand, header rewrites, the completion,
//   encrypted chunks) is WavDiskFile's (wav-disk-file.ts); its file is a RawFile,
//   whose calls run in the recording I/O thread, batched with every other
//   recording's (io/recording-io.ts), not on the main thread.
// - audio is copied once, into 64 KiB chunks from a process-wide pool
//   (chunk-pool.ts); a pass writes the part filled since the last pass straight
//   from the chunk (a view, no copy), and a chunk goes back to the pool once its
//   last byte was written (its last view consumed): no external memory is
//   allocated per flush or per 64 KiB of audio (it drove V8's GCs under load).
// - a failed write (ENOSPC, EIO) keeps what is on disk consistent (the header is
//   set back to the data written), is reported once per outage, and is retried
//   at most once a second: when the disk has room again the file goes on where
//   it stopped. While failing, at most FAIL_BACKLOG_SECONDS of audio wait in
//   memory; the rest is counted and written as silence on recovery, so the file
//   keeps the call's timeline (stems stay aligned with the mix).
// - close() is synchronous and idempotent; the last pass, the final header, the
//   trim of a trailing partial sample frame, one fsync and the close(2) run
//   asynchronously: `closed` resolves when the file is complete, with `sha256`
//   the hash of the file as closed (read back once through the open descriptor,
//   so finalization does not open and stream every file again).
//
// Encrypted (a PcmSealer given): the file is chunk-format.ts instead; each pass
// seals what is buffered into chunks of at most MAX_CHUNK_PLAIN and appends them,
// and close appends the trailer. The WAV header is made at decryption.
import { CHUNK_BYTES, chunkPool } from './chunk-pool.ts';
import { MAX_CHUNK_PLAIN } from './encryption/chunk-format.ts';
import type { PcmSealer } from './encryption/pcm-sealer.ts';
import { WavDiskFile } from './wav-disk-file.ts';

/** Shared source of the silence written for audio dropped during a disk outage. */
const ZEROS = Buffer.alloc(CHUNK_BYTES);
/** Audio held in memory beyond this while the disk is merely slow: reported once (nothing is dropped). */
const BACKLOG_WARN_SECONDS = 30;
/** While writes fail, audio beyond this is dropped (and written back as silence on recovery). */
const FAIL_BACKLOG_SECONDS = 10;
/** A failing file is retried at most this often. */
const RETRY_MS = 1000;

export interface WavWriterHooks {
  /** A write failed (once per outage), the disk is slow, or audio was lost at close. */
  error?: (err: Error, kind: 'write' | 'backlog' | 'lost') => void;
  /** Writes succeed again after a failure. */
  resumed?: () => void;
}

/** Bytes still to write: audio (a view of a pool chunk), or a count of zero bytes standing for dropped audio. */
type Segment = Buffer | number;
const NO_CHUNK = Buffer.alloc(0);

export class WavFileWriter {
  /** Resolves when the file is complete (final header, fsync, descriptor closed). Never rejects. */
  readonly closed: Promise<void>;
  readonly blockAlign: number;
  private readonly file: WavDiskFile;
  private segments: Segment[] = [];
  private current: Buffer;
  /** The same chunk's memory, as samples. */
  private currentSamples: Int16Array;
  private used = 0;
  /** current[0, sealed) is in the segments already (the rest of the chunk is filled after it). */
  private sealed = 0;
  /** Real audio bytes waiting in memory (segments and current). */
  private bufferedBytes = 0;
  /** Every byte appended, dropped ones included: the file's timeline. */
  private appendedBytes = 0;
  private inFlight = false;
  private closing = false;
  /** The current outage, if any. */
  private failure: Error | null = null;
  private retryAt = 0;
  /** The file cannot be written at all (it existed already): appends are ignored. */
  private gaveUp = false;
  private backlogReported = false;
  private resolveClosed!: () => void;
  /** Not created yet: no pass starts before release(). */
  private held: boolean;
  /** Why the file is not on disk (null: it is). Set when `closed` resolves. */
  lost: string | null = null;
  /** Outages seen (each reported once). */
  failures = 0;

  constructor(
    readonly path: string,
    readonly sampleRate: number,
    readonly channels: number,
    private readonly hooks: WavWriterHooks = {},
    private readonly sealer: PcmSealer | null = null,
    /** The header is rewritten every this many passes (1: every pass). */
    headerEveryPasses = 1,
    /**
     * The file is not created until release(): appends wait in memory meanwhile. The Recorder
     * holds a new file until the sidecar naming it is on disk, so a kill -9 never leaves a WAV
     * its sidecar does not list (a sidecar may name a file not created yet: the repair says so).
     */
    held = false,
  ) {
    this.blockAlign = 2 * channels;
    this.file = new WavDiskFile(path, sampleRate, channels, this.blockAlign, sealer, headerEveryPasses, (err) => this.report(err, 'write'));
    this.current = chunkPool().take();
    this.currentSamples = samplesOf(this.current);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.held = held;
    // Open and write the empty header now (or at release), off the tick.
    if (!held) this.start();
  }

  /** A held file (see the constructor) is created now; idempotent. A close() before it made the first pass the last. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.start();
  }

  /** Sample frames of the timeline (per channel), whether written, waiting or dropped. */
  get frames(): number {
    return this.appendedBytes / this.blockAlign;
  }

  get durationMs(): number {
    return (this.frames * 1000) / this.sampleRate;
  }

  /** Duration of the audio on disk (the header's claim once the file is complete). */
  get fileDurationMs(): number {
    return (Math.floor(this.file.dataBytes / this.blockAlign) * 1000) / this.sampleRate;
  }

  /** The sha256 of the complete file, set when `closed` resolves (null: lost, or it could not be read back). */
  get sha256(): string | null {
    return this.file.sha256;
  }

  /** Writes are failing now. */
  get failing(): boolean {
    return this.failure !== null;
  }

  /** Copies interleaved samples into memory; no I/O. */
  append(samples: Int16Array): void {
    if (this.closing || this.gaveUp) return;
    const n = samples.byteLength;
    this.appendedBytes += n;
    if (this.failure && this.bufferedBytes + n > FAIL_BACKLOG_SECONDS * this.blockAlign * this.sampleRate) {
      this.drop(n);
      return;
    }
    // In samples (every byte count here is even): a native copy, of the whole frame without a
    // view in the usual case, so an append allocates nothing.
    const total = samples.length;
    let off = 0;
    while (off < total) {
      const k = Math.min(total - off, (CHUNK_BYTES - this.used) >> 1);
      this.currentSamples.set(k === total ? samples : samples.subarray(off, off + k), this.used >> 1);
      this.used += 2 * k;
      off += k;
      if (this.used === CHUNK_BYTES) {
        this.seal();
        this.checkBacklog();
      }
    }
    this.bufferedBytes += n;
  }

  /** Appends `count` frames of silence. */
  appendSilence(count: number): void {
    if (count > 0) this.append(new Int16Array(count * this.channels));
  }

  /** Starts a pass that writes what is buffered and rewrites the header; skipped if one is in flight. */
  flush(): void {
    if (this.closing || this.inFlight || this.gaveUp || this.held) return;
    if (this.failure && Date.now() < this.retryAt) return;
    this.start();
  }

  /** Synchronous and idempotent: no more appends; the file completes in the background (`closed`). */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    // A pass in flight sees `closing` and makes the final one; a held file makes it at release().
    if (!this.inFlight && !this.held) this.start();
  }

  /** Resolves when no pass is in flight (tests and tools; the recorder never waits). */
  async whenIdle(): Promise<void> {
    while (this.inFlight) await new Promise((r) => setImmediate(r));
  }

  private start(): void {
    this.inFlight = true;
    this.run().catch(this.runFailed);
  }

  /** One function for every pass's catch, not a closure per pass. */
  private readonly runFailed = (err: unknown): void => this.report(err as Error, 'write');

  private async run(): Promise<void> {
    for (;;) {
      const final = this.closing;
      this.seal();
      await this.writeOut();
      if (final || !this.closing) break;
      // close() came during the pass: one more, the last attempt even if failing.
    }
    if (this.closing) await this.finish();
    this.inFlight = false;
  }

  /** Writes every segment, then the header. Never throws: a failure starts (or continues) an outage. */
  private async writeOut(): Promise<void> {
    if (this.gaveUp) return;
    const file = this.file;
    try {
      // An open file (every pass but the first) awaits nothing here.
      const opening = file.opened ? false : await file.open();
      if (this.sealer) await this.writeSealed();
      while (this.segments.length > 0 && !this.sealer) {
        const seg = this.segments[0]!;
        const buf = typeof seg === 'number' ? ZEROS.subarray(0, Math.min(seg, CHUNK_BYTES)) : seg;
        this.consume(file.dataWritten(await file.writeData(buf)));
      }
      if (file.headerDue(opening, this.failure !== null || this.closing)) await file.writeHeader();
      if (this.failure) {
        this.failure = null;
        this.hooks.resumed?.();
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') {
        // Never overwrite an existing recording: this file is given up.
        this.gaveUp = true;
        this.lost = e.message;
        this.segments = [];
        this.bufferedBytes = 0;
        this.report(e, 'write');
        return;
      }
      this.retryAt = Date.now() + RETRY_MS;
      if (!this.failure) {
        this.failure = e;
        this.failures++;
        this.report(e, 'write');
      }
      // Keep the header true to what did reach the disk (rewriting 44 bytes needs no new block).
      await file.writeHeader().catch(() => undefined);
    }
  }

  /** Encrypted: every buffered byte as chunks of at most MAX_CHUNK_PLAIN, appended. */
  private async writeSealed(): Promise<void> {
    const file = this.file;
    while (file.hasPendingChunk || this.segments.length > 0) {
      if (!file.hasPendingChunk) file.sealChunk(this.takePlain(MAX_CHUNK_PLAIN));
      for (let n = await file.writePendingChunk(); n > 0; ) {
        const seg = this.segments[0]!;
        const k = Math.min(n, typeof seg === 'number' ? seg : seg.length);
        this.consume(k);
        n -= k;
      }
    }
  }

  /** Up to `max` bytes from the front of the segments (silence as zeros), not consumed. */
  private takePlain(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    for (const seg of this.segments) {
      if (n >= max) break;
      const len = Math.min(max - n, typeof seg === 'number' ? seg : seg.length);
      parts.push(typeof seg === 'number' ? Buffer.alloc(len) : seg.subarray(0, len));
      n += len;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** After the last pass: what could not be written is reported; the file is made consistent and closed. */
  private async finish(): Promise<void> {
    const left = this.segments.reduce<number>((n, seg) => n + (typeof seg === 'number' ? seg : seg.length), 0);
    this.segments = [];
    this.bufferedBytes = 0;
    if (left > 0) {
      const s = (left / this.blockAlign / this.sampleRate).toFixed(1);
      this.report(new Error(`${this.path}: ${s} s of audio could not be written (${this.failure?.message ?? 'gave up'})`), 'lost');
    }
    const why = this.failure?.message ?? 'unknown';
    if (!this.file.created) this.lost ??= `never created: ${why}`;
    else {
      const lost = await this.file.complete(why);
      if (lost !== null) this.lost = lost;
    }
    // No pass runs any more and no append comes (closing): no view of the chunk is in use.
    const last = this.current;
    this.current = NO_CHUNK;
    this.currentSamples = samplesOf(NO_CHUNK);
    chunkPool().give(last);
    this.resolveClosed();
  }

  private report(err: Error, kind: 'write' | 'backlog' | 'lost'): void {
    this.hooks.error?.(err, kind);
  }

  /** Keeps buffering while the disk is slow (audio is not dropped), but says so once. */
  private checkBacklog(): void {
    const seconds = this.bufferedBytes / (this.blockAlign * this.sampleRate);
    if (seconds > BACKLOG_WARN_SECONDS && !this.backlogReported) {
      this.backlogReported = true;
      this.report(new Error(`${this.path}: ${seconds.toFixed(0)} s of audio waiting for the disk`), 'backlog');
    }
  }

  /** `n` bytes of audio are dropped: they become silence in the file, after what is already buffered. */
  private drop(n: number): void {
    this.seal();
    const last = this.segments.length - 1;
    const tail = this.segments[last];
    if (typeof tail === 'number') this.segments[last] = tail + n;
    else this.segments.push(n);
  }

  /**
   * Moves what the chunk got since the last seal to the list of segments to write, as a
   * view (no copy: those bytes are never changed, the chunk is filled after them). A full
   * chunk is replaced by one from the pool; it goes back there when its last view has
   * been written (consume()).
   */
  private seal(): void {
    if (this.used > this.sealed) this.segments.push(this.current.subarray(this.sealed, this.used));
    this.sealed = this.used;
    if (this.used === CHUNK_BYTES) {
      this.current = chunkPool().take();
      this.currentSamples = samplesOf(this.current);
      this.used = 0;
      this.sealed = 0;
    }
  }

  /** `n` bytes of the first segment reached the disk. */
  private consume(n: number): void {
    const seg = this.segments[0]!;
    if (typeof seg === 'number') {
      if (seg > n) this.segments[0] = seg - n;
      else this.segments.shift();
      return;
    }
    this.bufferedBytes -= n;
    if (seg.length > n) {
      this.segments[0] = seg.subarray(n);
      return;
    }
    this.segments.shift();
    // The view that ends a full chunk was written (its write resolved, and every earlier
    // view of that chunk before it): nothing refers to the chunk any more.
    if (seg.byteOffset + seg.length === CHUNK_BYTES) chunkPool().give(Buffer.from(seg.buffer, 0, CHUNK_BYTES));
  }
}

/** A chunk's bytes as int16 samples (a pool chunk starts its own ArrayBuffer: aligned). */
function samplesOf(chunk: Buffer): Int16Array {
  return new Int16Array(chunk.buffer, chunk.byteOffset, chunk.length >> 1);
}
