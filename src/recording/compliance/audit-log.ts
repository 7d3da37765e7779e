// The recordings' append-only audit log: one JSON line per event (created,
// finalized, stored, exported, held, released, deleted, delete.failed), each carrying `prev`, the sha256
// of the line before it (64 zeros for the first), and `seq`, so that an edited,
// removed, inserted or reordered line breaks the chain where it happened
// (audit-verify.ts says at which line).
//
// Appends are batched: entries asked for while a write is in flight go out
// together in the next write, followed by one fsync; append() resolves once
// its line is on disk. All I/O is asynchronous. seq and prev are assigned when a
// batch is written, so a failed write (a full disk) is cut off again and leaves
// no gap in the chain: its entries are rejected and the next batch continues from
// the last line on disk.
//
// The batch's write and its fsync run in the recording I/O thread (io/recording-io.ts),
// sent together (one batch there: the write, then the fsync), not as two calls to
// libuv's pool from the main thread. The write is positional, at the end of the last
// line on disk (the file is not opened O_APPEND), so a call sent again to a new
// thread after its thread died writes the same bytes at the same place: never twice.
//
// After each batch a signed head (`<file>.head`: last seq and its line's sha256,
// signed with the recordings' key) is replaced atomically. A log cut short loses
// lines the head still names: the next start says so in the log itself (an
// `audit.truncated` entry), and verify reports it.
import { constants } from 'node:fs';
import { open, readFile, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../util/logger.ts';
import { recordingIo } from '../io/recording-io.ts';
import { sha256Hex } from './canonical-json.ts';
import type { SigningKey, VerifyKey } from './signing-key.ts';

export const GENESIS = '0'.repeat(64);

export type AuditEvent =
  | 'created'
  | 'finalized'
  | 'exported'
  | 'export.refused'
  | 'held'
  | 'released'
  | 'deleted'
  | 'delete.failed'
  | 'stored'
  | 'audit.repaired'
  | 'audit.truncated';

export interface AuditEntry {
  seq: number;
  at: string;
  event: AuditEvent;
  recording: string | null;
  /** Who: `api:<token name>`, `parley` (the process itself), `retention`, `cli`. */
  actor: string;
  prev: string;
  [detail: string]: unknown;
}

export interface AuditHead {
  seq: number;
  /** sha256 of the line with that seq. */
  hash: string;
  at: string;
  keyId: string;
  signature: string;
}

export function headSignedText(seq: number, hash: string): string {
  return `parley-audit-head:${seq}:${hash}`;
}

export async function readHead(path: string): Promise<AuditHead | null> {
  try {
    return JSON.parse(await readFile(`${path}.head`, 'utf8')) as AuditHead;
  } catch {
    return null;
  }
}

export function headIsSigned(head: AuditHead, key: VerifyKey): boolean {
  return head.keyId === key.id && key.verify(headSignedText(head.seq, head.hash), head.signature);
}

interface Pending {
  event: AuditEvent;
  recording: string | null;
  actor: string;
  details: Record<string, unknown>;
  resolve: (e: AuditEntry) => void;
  reject: (err: Error) => void;
}

/** How much of the end of the file is read at open to find the last line (entries are far smaller). */
const TAIL_BYTES = 1 << 20;

export class AuditLog {
  private seq = 0;
  private head = GENESIS;
  private size = 0;
  private queue: Pending[] = [];
  private running: Promise<void> | null = null;
  private headRunning: Promise<void> | null = null;
  private headDirty = false;
  /** The last head write kept its temp file (`.head.tmp`) for the next one. */
  private headTempKept = false;
  private closed = false;
  /** close()'s last steps (the head's temp file taken along, the file closed). */
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly key: SigningKey | null,
    private readonly log: Logger,
  ) {}

  /** Opens (creating) the log, finds its last entry, cuts off a line a crash left unfinished. */
  static async open(path: string, key: SigningKey | null, log: Logger): Promise<AuditLog> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Read-write, not O_APPEND: appends are positional writes (see the top).
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    const audit = new AuditLog(path, fh, key, log);
    try {
      await audit.readTail();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return audit;
  }

  /** Entries appended so far (the last seq on disk). */
  get lastSeq(): number {
    return this.seq;
  }

  private async readTail(): Promise<void> {
    const { size } = await this.fh.stat();
    this.size = size;
    if (size === 0) return this.checkHead(null);
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await this.fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (!text.endsWith('\n')) {
      // Never acknowledged: append() resolves only after the whole batch, newline included, is synced.
      const cut = text.lastIndexOf('\n') + 1;
      const torn = text.slice(cut);
      const keep = start + Buffer.byteLength(text.slice(0, cut));
      await this.fh.truncate(keep);
      this.size = keep;
      text = text.slice(0, cut);
      this.log.warn({ file: this.path, bytes: Buffer.byteLength(torn) }, 'audit log: an entry a crash left unfinished was cut off');
      this.afterOpen.push({ event: 'audit.repaired', details: { discardedBytes: Buffer.byteLength(torn), discardedSha256: sha256Hex(torn) } });
    }
    const lines = text.split('\n').filter((l) => l !== '');
    const last = lines.at(-1);
    if (last === undefined) return this.checkHead(null);
    this.head = sha256Hex(last);
    try {
      this.seq = (JSON.parse(last) as AuditEntry).seq;
    } catch {
      this.log.error({ file: this.path }, 'audit log: its last line is not an entry (verify reports it); appending after it');
      this.seq = lines.length;
    }
    return this.checkHead(last);
  }

  private readonly afterOpen: { event: AuditEvent; details: Record<string, unknown> }[] = [];

  /** A signed head past the last line: the log lost lines while Parley was stopped. Said in the log itself. */
  private async checkHead(_last: string | null): Promise<void> {
    const head = await readHead(this.path);
    if (head && head.seq > this.seq) {
      this.log.error({ file: this.path, headSeq: head.seq, lastSeq: this.seq }, 'audit log: it ends before its signed head: lines were removed');
      this.afterOpen.push({ event: 'audit.truncated', details: { headSeq: head.seq, headHash: head.hash, lastSeq: this.seq } });
    }
    for (const a of this.afterOpen.splice(0)) this.append(a.event, null, 'parley', a.details).catch(() => undefined);
  }

  /** Resolves with the entry once its line is on disk (fdatasync). */
  append(event: AuditEvent, recording: string | null, actor: string, details: Record<string, unknown> = {}): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, recording, actor, details, resolve, reject });
      this.kick();
    });
  }

  /** Starts the write loop unless it runs; one that ends with entries queued meanwhile starts again. */
  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    // Let the appends of this event-loop turn join the batch.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      const entries: AuditEntry[] = [];
      const lines: string[] = [];
      let seq = this.seq;
      let head = this.head;
      for (const p of batch) {
        const entry: AuditEntry = { seq: ++seq, at: new Date().toISOString(), event: p.event, recording: p.recording, actor: p.actor, prev: head, ...p.details };
        const line = JSON.stringify(entry);
        head = sha256Hex(line);
        entries.push(entry);
        lines.push(line + '\n');
      }
      const buf = Buffer.from(lines.join(''));
      try {
        await this.writeAndSync(buf);
      } catch (err) {
        // Nothing of a failed batch stays: the chain goes on from the last line on disk.
        await recordingIo().truncate(this.fh.fd, this.size).catch(() => undefined);
        this.log.error({ err, file: this.path, entries: batch.length }, 'audit log write failed');
        for (const p of batch) p.reject(err as Error);
        continue;
      }
      this.size += buf.length;
      this.seq = seq;
      this.head = head;
      batch.forEach((p, i) => p.resolve(entries[i]!));
      this.writeHead();
    }
  }

  /** The batch's bytes after the last line on disk, then fsync: one batch of the recording I/O thread. */
  private async writeAndSync(buf: Buffer): Promise<void> {
    const io = recordingIo();
    // Both asked for now, so that they go in one batch, the write first; both awaited (no unhandled rejection).
    const [wrote, synced] = await Promise.allSettled([io.write(this.fh.fd, buf, 0, buf.length, this.size), io.sync(this.fh.fd)]);
    if (wrote.status === 'rejected') throw wrote.reason;
    if (wrote.value !== buf.length) throw new Error(`audit log: short write (${wrote.value} of ${buf.length} bytes)`);
    if (synced.status === 'rejected') throw synced.reason;
  }

  private signedHead(): AuditHead {
    const key = this.key!;
    return { seq: this.seq, hash: this.head, at: new Date().toISOString(), keyId: key.id, signature: key.sign(headSignedText(this.seq, this.head)) };
  }

  private writeHead(): void {
    if (!this.key) return;
    this.headDirty = true;
    if (this.headRunning) return;
    this.headRunning = (async () => {
      while (this.headDirty) {
        this.headDirty = false;
        const head = this.signedHead();
        try {
          // Temp file + rename in the recording I/O thread (one batched call, not four to libuv's pool).
          // The head is rewritten after every batch: its temp file is kept from one write to the
          // next (keepTemp), so a rewrite allocates and frees no inode; close() takes it along.
          await recordingIo().writeAtomic(`${this.path}.head`, JSON.stringify(head) + '\n', 0o600, true);
          this.headTempKept = true;
        } catch (err) {
          this.log.warn({ err, file: `${this.path}.head` }, 'audit log head write failed');
        }
      }
    })().finally(() => {
      this.headRunning = null;
      if (this.headDirty) this.writeHead();
    });
  }

  /** Resolves once every entry appended so far is on disk (or failed) and the head is written. */
  async settled(): Promise<void> {
    await this.drained();
    await this.closing;
  }

  private async drained(): Promise<void> {
    while (this.running || this.headRunning) await Promise.all([this.running, this.headRunning]);
  }

  /** The head once more without keepTemp: its temp file goes (a closed log leaves only `.head`). */
  private async dropHeadTemp(): Promise<void> {
    if (!this.headTempKept || !this.key) return;
    this.headTempKept = false;
    await recordingIo()
      .writeAtomic(`${this.path}.head`, JSON.stringify(this.signedHead()) + '\n', 0o600)
      .catch((err: unknown) => this.log.warn({ err, file: `${this.path}.head` }, 'audit log head write failed'));
  }

  /** Synchronous and idempotent: no more appends; what is queued is still written, then the file closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = this.drained()
      .then(() => this.dropHeadTemp())
      .then(() => this.fh.close())
      .catch((err: unknown) => this.log.warn({ err }, 'audit log close failed'));
  }
}
