// The webhook deliveries not yet done, journaled to api.webhookSpoolFile as they
// change (JSON lines: `add` a delivery, `try` its next attempt number, `done`),
// so that a stop, a crash or a kill -9 loses none of them: the next start sends
// them again with the same delivery id. Records of one turn of the event loop
// are appended in one write; the journal is compacted (rewritten with the live
// deliveries only) when it holds more than twice as many lines as are live.
// Replaying the journal is idempotent, so a record written twice does no harm;
// at worst a delivery that succeeded just before a crash is sent once more
// (the receiver sees the same X-Parley-Delivery). A spool of the older format
// (one JSON array, written at stop) is read too.
import type { Logger } from '../util/logger.ts';
import type { ApiEvent } from './event-hub.ts';
import { JsonLinesFile } from './jsonl-file.ts';

/** A delivery not yet done: the hook is found again by its URL. */
export interface Delivery {
  delivery: string;
  url: string;
  event: ApiEvent;
  /** The attempt to make next (1 for the first). */
  attempt: number;
  /** When the first attempt was made (epoch ms): the retry window starts there. */
  firstAttemptAt: number;
}

type SpoolRecord = { op: 'add'; d: Delivery } | { op: 'try'; id: string; attempt: number } | { op: 'done'; id: string };

/** Below this many lines the journal is never compacted. */
const COMPACT_MIN_LINES = 1000;

export class WebhookSpool {
  private readonly file: JsonLinesFile;
  /** What the journal says is pending, by delivery id. */
  private readonly live = new Map<string, Delivery>();
  private buffer: SpoolRecord[] = [];
  private flushTimer: NodeJS.Immediate | null = null;
  private lines = 0;

  constructor(
    path: string,
    private readonly log: Logger,
  ) {
    this.file = new JsonLinesFile(path);
  }

  get path(): string {
    return this.file.path;
  }

  /** The deliveries the journal holds (a previous run's); the journal is rewritten with just what is live. */
  async load(): Promise<Delivery[]> {
    const { records, bad } = await this.file.read();
    if (bad > 0) this.log.warn({ file: this.path, bad }, 'webhook spool: lines that are not JSON skipped (a write torn by a crash)');
    const journal = new Map<string, Delivery>();
    for (const r of records) {
      if (Array.isArray(r)) {
        // The older spool: one array of { url, event, delivery, attempt }, written at stop.
        for (const d of r as Partial<Delivery>[]) apply(journal, { op: 'add', d: { ...d, firstAttemptAt: d.firstAttemptAt ?? Date.now() } as Delivery });
      } else {
        apply(journal, r as SpoolRecord);
      }
    }
    const found: Delivery[] = [];
    for (const d of journal.values()) {
      if (typeof d?.delivery !== 'string' || typeof d.url !== 'string' || typeof d.event !== 'object' || d.event === null) continue;
      if (this.live.has(d.delivery)) continue;
      const clean = { ...d, attempt: Math.max(1, Number(d.attempt) || 1), firstAttemptAt: Number(d.firstAttemptAt) || Date.now() };
      this.live.set(d.delivery, clean);
      found.push(clean);
    }
    if (records.length > 0 || bad > 0) this.compact();
    return found;
  }

  add(d: Delivery): void {
    this.record({ op: 'add', d: { ...d } });
  }

  tried(id: string, nextAttempt: number): void {
    this.record({ op: 'try', id, attempt: nextAttempt });
  }

  done(id: string): void {
    this.record({ op: 'done', id });
  }

  /** Writes what is buffered now. Nothing stops the writes already queued: settled() says when they are on disk. */
  flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.lines += batch.length;
    this.file.append(batch).catch((err: unknown) => this.log.error({ err, file: this.path, records: batch.length }, 'webhook spool not written'));
    if (this.lines > COMPACT_MIN_LINES && this.lines > 2 * this.live.size) this.compact();
  }

  /** Resolves once everything flushed so far is on disk (or failed, logged). */
  settled(): Promise<void> {
    return this.file.settled();
  }

  private record(r: SpoolRecord): void {
    if (!apply(this.live, r)) return;
    this.buffer.push(r);
    this.flushTimer ??= setImmediate(() => this.flush());
  }

  private compact(): void {
    // The snapshot is taken now; records buffered after it are appended after the rewrite.
    const snapshot: SpoolRecord[] = [...this.live.values()].map((d) => ({ op: 'add', d }));
    this.lines = snapshot.length;
    this.file.rewrite(snapshot).catch((err: unknown) => this.log.error({ err, file: this.path }, 'webhook spool not compacted'));
  }
}

/** Applies a journal record; false when it changes nothing (a `try` or `done` of an unknown delivery, junk). */
function apply(live: Map<string, Delivery>, r: SpoolRecord): boolean {
  if (r?.op === 'add' && r.d) {
    live.set(r.d.delivery, r.d);
    return true;
  }
  if (r?.op !== 'try' && r?.op !== 'done') return false;
  const d = live.get(r.id);
  if (!d) return false;
  if (r.op === 'try') live.set(r.id, { ...d, attempt: r.attempt });
  else live.delete(r.id);
  return true;
}
