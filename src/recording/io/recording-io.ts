// The recordings' file I/O, off the main thread and batched. Every async file
// call the main thread makes costs it the submission to libuv's pool (a futex
// wake of a pool thread): measured at about 26 µs per call on a loaded 2-core VM,
// and a recording made ~6 such calls per file per second. Here the calls of all
// recordings are collected for BATCH_MS and sent to one worker thread in one
// message (their bytes packed in one transferred ArrayBuffer); it runs them
// (recording-io-worker.mjs) and answers each batch with one message. The main
// thread's cost per call is then a copy of its bytes and a promise. The batch's
// buffer is transferred to the thread and back with the answer, and used again
// (a new one every BATCH_MS was external memory that drove V8's GCs on the main
// thread); while the thread holds it, it is detached here, so it cannot be
// reused before the thread is done with it.
//
// - One process-wide instance (recordingIo()), its thread started at the first
//   call and unref'd while no call is outstanding (it never holds the process).
// - The callers (RawFile, SidecarWriter) await each call before the next on the
//   same file, so a batch never holds two calls of one file.
// - Crash safety is unchanged: a kill -9 loses what was not yet written, as with
//   the pool (at most a pass, plus up to BATCH_MS).
// - The thread may die (a bug, an exit, a terminate): the callers do not see it.
//   Its descriptors stay open (trackUnmanagedFds off: by default Node closes a dead
//   worker's fs.open() descriptors, and their numbers would then be reused under
//   the writers), so a new thread goes on with the same numbers. Every call the
//   dead thread did not answer is sent again (its bytes are still the caller's):
//   writes, truncates, fsyncs and read-backs are idempotent; a create it may have
//   done is redone in the new thread by adopting the descriptor it left open on
//   that file (found by device and inode), a close it may have done is redone only
//   if the number still names that file, and an atomic write first closes a
//   descriptor left open on its temp file (recording-io-worker.mjs). A call is sent
//   at most MAX_SENDS times (a thread that dies on it every time fails it).
import { Worker } from 'node:worker_threads';

/** Calls are collected this long before they go to the thread as one batch. */
const BATCH_MS = 10;
/** A call whose thread died this many times is failed instead of sent again. */
const MAX_SENDS = 3;
/** Batch buffers are made at least this big (and in powers of two), so that one fits many batches. */
const MIN_BATCH_BUFFER = 64 * 1024;
/** Buffers the thread handed back, kept for the next batches (the biggest). */
const MAX_SPARE_BUFFERS = 4;

type Op =
  | { kind: 'create'; path: string }
  | { kind: 'write'; fd: number; at: number; length: number; position: number }
  | { kind: 'truncate'; fd: number; length: number }
  | { kind: 'sync'; fd: number }
  | { kind: 'sha256'; fd: number }
  | { kind: 'close'; fd: number }
  | { kind: 'writeAtomic'; path: string; text: string; mode?: number; keepTemp?: true }
  | { kind: 'sizes'; paths: string[] }
  | { kind: 'append'; path: string; text: string }
  | { kind: 'stats' }
  // Test hook: the thread exits after running the batch, before answering it.
  | { kind: 'exit' };

/** A call sent again after its thread died: the thread makes up for what the dead one may have done. */
type Resent = Op & { id: number; resent?: true; path?: string };

/** What the thread measured with PARLEY_REC_IO_STATS=1 (recording-io-worker.mjs). */
export interface RecordingIoThreadStats {
  batches: number;
  /** Wall ms in the batch handler (every synchronous call, the answer's post). */
  batchMs: number;
  /** By kind: calls, wall ms in the thread, bytes (writes, hashed bytes). */
  ops: Record<string, { n: number; ms: number; bytes: number }>;
}

interface Result {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { message: string; code: string | null };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  op: Op & { id: number };
  /** A write's bytes (the caller's, unchanged until the call resolves): sent again if the thread dies. */
  bytes: Uint8Array | null;
  sends: number;
}

export class RecordingIo {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private queue: Resent[] = [];
  /** Bytes of the queued writes, packed in order. */
  private chunks: Uint8Array[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private nextId = 1;
  /** The path of each descriptor a create answered, until its close is answered: a close sent again checks it. */
  private readonly paths = new Map<number, string>();
  /** Test hook: the next batch holding a call of this kind ends with the thread's exit. */
  private exitAfter: Op['kind'] | null = null;
  /** Batch buffers the thread handed back (each whole, detached from the thread), for the next batches. */
  private spare: ArrayBuffer[] = [];
  /** Batches sent, and calls run: for tests and benches. */
  batches = 0;
  /** Batch buffers made, and batches sent in a buffer used again: for tests and benches. */
  buffersMade = 0;
  buffersReused = 0;
  calls = 0;
  /** Calls asked for, by kind (not counting the ones sent again): for benches. */
  readonly callsByKind: Record<string, number> = {};
  /** Threads that died, and calls sent again to their successors. */
  threadDeaths = 0;
  resent = 0;
  /** Told of each death (the recording service logs it). */
  private readonly deathListeners = new Set<(err: Error, resent: number) => void>();

  create(path: string): Promise<number> {
    return this.call({ id: 0, kind: 'create', path }) as Promise<number>;
  }

  /** pwrite(2) of `length` bytes of `buf` from `offset`: the bytes written. They are copied when the batch goes (within BATCH_MS): the caller must not change them until the call resolves (the writers never reuse a buffer they handed over). */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    // The whole buffer (what the writers pass): no view made for it.
    const bytes = offset === 0 && length >= buf.length ? buf : buf.subarray(offset, offset + length);
    return this.call({ id: 0, kind: 'write', fd, at: 0, length: bytes.length, position }, bytes) as Promise<number>;
  }

  truncate(fd: number, length: number): Promise<void> {
    return this.call({ id: 0, kind: 'truncate', fd, length }) as Promise<void>;
  }

  sync(fd: number): Promise<void> {
    return this.call({ id: 0, kind: 'sync', fd }) as Promise<void>;
  }

  /** The sha256 of the whole file behind `fd` (read back in the thread). */
  sha256(fd: number): Promise<string> {
    return this.call({ id: 0, kind: 'sha256', fd }) as Promise<string>;
  }

  close(fd: number): Promise<void> {
    return this.call({ id: 0, kind: 'close', fd }) as Promise<void>;
  }

  /**
   * `text` to `path` atomically: a temp file beside it (`<path>.tmp`), renamed over it
   * (removed if that fails). `mode`: the temp file's permissions when it is created
   * (default 0o666 less the umask). `keepTemp` (a file rewritten often): the inode
   * replaced becomes the next call's temp file, so a rewrite allocates and frees no inode
   * (recording-io-worker.mjs); `<path>.tmp` then stays until a call without keepTemp.
   */
  writeAtomic(path: string, text: string, mode?: number, keepTemp = false): Promise<void> {
    const op: Extract<Op, { kind: 'writeAtomic' }> & { id: number } = { id: 0, kind: 'writeAtomic', path, text };
    if (mode !== undefined) op.mode = mode;
    if (keepTemp) op.keepTemp = true;
    return this.call(op) as Promise<void>;
  }

  /**
   * Appends `text` to `path` (created, with its folder, if missing): open, write and close in
   * the thread, one batched call instead of three to libuv's pool. A call sent again after its
   * thread died may append twice: for idempotent lines only (the recordings index's journal).
   */
  append(path: string, text: string): Promise<void> {
    return this.call({ id: 0, kind: 'append', path, text }) as Promise<void>;
  }

  /** The size in bytes of each file (0 for one that is missing or unreadable): one call for them all, not a stat each on libuv's pool. */
  sizes(paths: string[]): Promise<number[]> {
    return this.call({ id: 0, kind: 'sizes', paths }) as Promise<number[]>;
  }

  /** The thread's own per-kind timings (wall ms in the thread), or null unless PARLEY_REC_IO_STATS=1 when it started: for benches. */
  threadStats(): Promise<RecordingIoThreadStats | null> {
    return this.call({ id: 0, kind: 'stats' }) as Promise<RecordingIoThreadStats | null>;
  }

  /** `fn` is called when the thread dies, with how many calls were sent to the next one; returns the unsubscribe. */
  onThreadDeath(fn: (err: Error, resent: number) => void): () => void {
    this.deathListeners.add(fn);
    return () => this.deathListeners.delete(fn);
  }

  /** Test hook: the thread dies after running the next batch that holds a call of `kind`, before answering it. */
  exitAfterNext(kind: Op['kind']): void {
    this.exitAfter = kind;
  }

  /** Test hook: the thread is stopped now, wherever it is. */
  async terminateThread(): Promise<void> {
    await this.worker?.terminate();
  }

  /** `op` is the caller's own literal (made with id 0): it takes the call's id, not a copy of it per call. */
  private call(op: Op & { id: number }, bytes: Uint8Array | null = null): Promise<unknown> {
    const id = this.nextId++;
    const queued = op;
    queued.id = id;
    this.callsByKind[op.kind] = (this.callsByKind[op.kind] ?? 0) + 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, op: queued, bytes, sends: 0 });
      this.enqueue(queued, bytes);
    });
  }

  private enqueue(op: Resent, bytes: Uint8Array | null): void {
    if (op.kind === 'write' && bytes) {
      op.at = this.queuedBytes;
      this.chunks.push(bytes);
      this.queuedBytes += bytes.length;
    }
    this.queue.push(op);
    this.timer ??= setTimeout(() => this.send(), BATCH_MS);
  }

  private send(): void {
    this.timer = null;
    const ops = this.queue;
    if (ops.length === 0) return;
    let payload: ArrayBuffer | null = null;
    if (this.queuedBytes > 0) {
      const all = new Uint8Array(this.batchBuffer(this.queuedBytes), 0, this.queuedBytes);
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
    for (const op of ops) {
      const p = this.pending.get(op.id);
      if (p) p.sends++;
    }
    const w = this.thread();
    w.ref();
    this.batches++;
    this.calls += ops.length;
    const exit = this.exitAfter !== null && ops.some((o) => o.kind === this.exitAfter);
    if (exit) this.exitAfter = null;
    w.postMessage({ ops: exit ? [...ops, { kind: 'exit', id: 0 }] : ops, payload }, payload ? [payload] : []);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./recording-io-worker.mjs', import.meta.url), { execArgv: [], trackUnmanagedFds: false });
    w.on('message', (m: { results: Result[]; payload?: ArrayBuffer }) => {
      // The batch's buffer, handed back once the thread has run every write in it.
      if (m.payload) this.keepSpare(m.payload);
      // A dead thread's late answers are dropped: its calls went to the next one.
      if (this.worker === w) this.onResults(m.results);
    });
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`the recording I/O thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  /** A buffer of at least `bytes`: one the thread handed back, or a new one. */
  private batchBuffer(bytes: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) {
      const len = this.spare[i]!.byteLength;
      if (len >= bytes && (best < 0 || len < this.spare[best]!.byteLength)) best = i;
    }
    if (best >= 0) {
      this.buffersReused++;
      return this.spare.splice(best, 1)[0]!;
    }
    this.buffersMade++;
    let size = MIN_BATCH_BUFFER;
    while (size < bytes) size *= 2;
    return new ArrayBuffer(size);
  }

  private keepSpare(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0) return; // detached (cannot happen: the thread transfers it back whole)
    this.spare.push(buffer);
    if (this.spare.length > MAX_SPARE_BUFFERS) {
      // The smallest goes to the GC.
      this.spare.sort((a, b) => b.byteLength - a.byteLength);
      this.spare.length = MAX_SPARE_BUFFERS;
    }
  }

  private onResults(results: Result[]): void {
    for (const r of results) {
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      if (r.ok && p.op.kind === 'create') this.paths.set(r.value as number, p.op.path);
      if (p.op.kind === 'close') this.paths.delete(p.op.fd);
      if (r.ok) p.resolve(r.value ?? undefined);
      else p.reject(Object.assign(new Error(r.error?.message ?? 'recording I/O failed'), r.error?.code ? { code: r.error.code } : {}));
    }
    if (this.pending.size === 0 && this.queue.length === 0) this.worker?.unref();
  }

  /** The thread died: what it had not answered goes to a new one (see the top), or fails after MAX_SENDS. */
  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.threadDeaths++;
    const queued = new Set(this.queue.map((o) => o.id));
    let again = 0;
    for (const [id, p] of this.pending) {
      if (queued.has(id)) continue;
      if (p.sends >= MAX_SENDS) {
        this.pending.delete(id);
        p.reject(err);
        continue;
      }
      const op: Resent = { ...p.op, resent: true };
      if (op.kind === 'close') op.path = this.paths.get(op.fd);
      again++;
      this.enqueue(op, p.bytes);
    }
    this.resent += again;
    for (const fn of this.deathListeners) {
      try {
        fn(err, again);
      } catch {
        // a listener's fault is not the I/O's
      }
    }
  }
}

let instance: RecordingIo | null = null;

/** The process's recording I/O (one thread for every recording). */
export function recordingIo(): RecordingIo {
  instance ??= new RecordingIo();
  return instance;
}
