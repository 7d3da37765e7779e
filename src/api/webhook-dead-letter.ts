// Webhook deliveries that failed for the whole retry window (or ran out of
// attempts) are kept here, one JSON line each, instead of being dropped: the
// API lists them and replays them (the same delivery id). Appends and the
// rewrite that removes replayed entries go through one queue (JsonLinesFile),
// so an entry that dies while a replay runs is neither lost nor replayed twice.
import type { ApiEvent } from './event-hub.ts';
import { JsonLinesFile } from './jsonl-file.ts';

export interface DeadLetter {
  delivery: string;
  url: string;
  event: ApiEvent;
  /** Attempts made. */
  attempts: number;
  firstAttemptAt: string;
  deadAt: string;
  /** What the last attempt got: `status 503`, a network error. */
  lastError: string;
}

function isDeadLetter(r: unknown): r is DeadLetter {
  const d = r as DeadLetter;
  return typeof d === 'object' && d !== null && typeof d.delivery === 'string' && typeof d.url === 'string' && typeof d.event === 'object' && d.event !== null;
}

export class WebhookDeadLetter {
  private readonly file: JsonLinesFile;

  constructor(path: string) {
    this.file = new JsonLinesFile(path);
  }

  get path(): string {
    return this.file.path;
  }

  add(entry: DeadLetter): Promise<void> {
    return this.file.append([entry]);
  }

  /** Every entry, oldest first. */
  async list(): Promise<DeadLetter[]> {
    return (await this.file.read()).records.filter(isDeadLetter);
  }

  /** Removes and returns the entries `take` accepts; the others (and lines that are not entries) stay. */
  remove(take: (e: DeadLetter) => boolean): Promise<DeadLetter[]> {
    return this.file.update((records) => {
      const taken: DeadLetter[] = [];
      const keep = records.filter((r) => {
        if (!isDeadLetter(r) || !take(r)) return true;
        taken.push(r);
        return false;
      });
      return { keep, result: taken };
    });
  }

  settled(): Promise<void> {
    return this.file.settled();
  }
}
