// The recordings' file I/O, off the main thread and batched. Every async file
// call the main thread makes costs it the submission to libuv's pool (a futex
// wake of a pool thread): measured at about 26 µs per call on a loaded 2-core VM,
// and a recording made ~6 such calls per file per second. Here the calls of all
// recordings are collected for BATCH_MS and sent to one worker thread in one
// message (their bytes packed in one transferred ArrayBuffer); it runs them
// (recording-io-worker.mjs) and answers each batch with one message. The main
// thread's cost per call is then a copy of its bytes and a promise.
//
// - One process-wide instance (recordingIo()), its thread started at the first
//   call and unref'd while no call is outstanding (it never holds the process).
// - The callers (RawFile, SidecarWriter) await each call before the next on the
//   same file, so a batch never holds two calls of one file.
// - Crash safety is unchanged: a kill -9 loses what was not yet written, as with
//   the pool (at most a pass, plus up to BATCH_MS). The descriptors belong to the
//   process: if the thread dies (a bug), its outstanding calls fail (the writers
//   treat that as a write failure and retry), and a new thread takes the next ones.
import { Worker } from 'node:worker_threads';

/** Calls are collected this long before they go to the thread as one batch. */
const BATCH_MS = 10;

type Op =
  | { kind: 'create'; path: string }
  | { kind: 'write'; fd: number; at: number; length: number; position: number }
  | { kind: 'truncate'; fd: number; length: number }
  | { kind: 'sync'; fd: number }
  | { kind: 'sha256'; fd: number }
  | { kind: 'close'; fd: number }
  | { kind: 'writeAtomic'; path: string; text: string };

interface Result {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { message: string; code: string | null };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class RecordingIo {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private queue: (Op & { id: number })[] = [];
  /** Bytes of the queued writes, packed in order. */
  private chunks: Uint8Array[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private nextId = 1;
  /** Batches sent, and calls run: for tests and benches. */
  batches = 0;
  calls = 0;

  create(path: string): Promise<number> {
    return this.call({ kind: 'create', path }) as Promise<number>;
  }

  /** pwrite(2) of `length` bytes of `buf` from `offset`: the bytes written. They are copied when the batch goes (within BATCH_MS): the caller must not change them until the call resolves (the writers never reuse a buffer they handed over). */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const bytes = buf.subarray(offset, offset + length);
    const at = this.queuedBytes;
    this.chunks.push(bytes);
    this.queuedBytes += bytes.length;
    return this.call({ kind: 'write', fd, at, length: bytes.length, position }) as Promise<number>;
  }

  truncate(fd: number, length: number): Promise<void> {
    return this.call({ kind: 'truncate', fd, length }) as Promise<void>;
  }

  sync(fd: number): Promise<void> {
    return this.call({ kind: 'sync', fd }) as Promise<void>;
  }

  /** The sha256 of the whole file behind `fd` (read back in the thread). */
  sha256(fd: number): Promise<string> {
    return this.call({ kind: 'sha256', fd }) as Promise<string>;
  }

  close(fd: number): Promise<void> {
    return this.call({ kind: 'close', fd }) as Promise<void>;
  }

  /** `text` to `path` atomically: a temp file beside it, renamed over it (removed if that fails). */
  writeAtomic(path: string, text: string): Promise<void> {
    return this.call({ kind: 'writeAtomic', path, text }) as Promise<void>;
  }

  private call(op: Op): Promise<unknown> {
    const id = this.nextId++;
    this.queue.push({ ...op, id });
    this.timer ??= setTimeout(() => this.send(), BATCH_MS);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private send(): void {
    this.timer = null;
    const ops = this.queue;
    if (ops.length === 0) return;
    let payload: ArrayBuffer | null = null;
    if (this.queuedBytes > 0) {
      const all = new Uint8Array(this.queuedBytes);
      let at = 0;
      for (const c of this.chunks) {
        all.set(c, at);
        at += c.length;
      }
      payload = all.buffer;
    }
    this.queue = [];
    this.chunks = [];
    this.queuedBytes = 0;
    const w = this.thread();
    w.ref();
    this.batches++;
    this.calls += ops.length;
    w.postMessage({ ops, payload }, payload ? [payload] : []);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./recording-io-worker.mjs', import.meta.url), { execArgv: [] });
    w.on('message', (m: { results: Result[] }) => this.onResults(m.results));
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`the recording I/O thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private onResults(results: Result[]): void {
    for (const r of results) {
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value ?? undefined);
      else p.reject(Object.assign(new Error(r.error?.message ?? 'recording I/O failed'), r.error?.code ? { code: r.error.code } : {}));
    }
    if (this.pending.size === 0 && this.queue.length === 0) this.worker?.unref();
  }

  /** The thread failed: what it had not answered fails; the next call starts a new one. */
  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    const queued = new Set(this.queue.map((o) => o.id));
    for (const [id, p] of this.pending) {
      if (queued.has(id)) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

let instance: RecordingIo | null = null;

/** The process's recording I/O (one thread for every recording). */
export function recordingIo(): RecordingIo {
  instance ??= new RecordingIo();
  return instance;
}
