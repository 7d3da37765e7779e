// A JSON-lines file written only asynchronously, one operation at a time: the
// webhook spool and dead letter live in these. Appends, whole rewrites (to a
// temporary file, then renamed: a crash never leaves half a file) and reads are
// queued in one chain, so a read sees every write queued before it and a
// rewrite never races an append. A line torn by a crash is skipped on reading.
// Files are created 0600: they hold event data (Call-IDs, URIs).
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export class JsonLinesFile {
  private chain: Promise<unknown> = Promise.resolve();
  private dirReady = false;
  private tmpSeq = 0;

  constructor(readonly path: string) {}

  /** Appends the records, one line each, in one write. */
  append(records: readonly unknown[]): Promise<void> {
    if (records.length === 0) return this.settled();
    const text = records.map((r) => JSON.stringify(r) + '\n').join('');
    return this.queue(async () => {
      await this.ensureDir();
      await appendFile(this.path, text, { mode: 0o600 });
    });
  }

  /** Replaces the whole file with these records. */
  rewrite(records: readonly unknown[]): Promise<void> {
    return this.queue(() => this.writeAll(records));
  }

  /** Every record in the file (none when it does not exist), and how many lines were not JSON. */
  read(): Promise<{ records: unknown[]; bad: number }> {
    return this.queue(() => this.readAll());
  }

  /** Reads, lets `fn` choose what stays, rewrites when something goes: one step, no write in between. */
  update<T>(fn: (records: unknown[]) => { keep: unknown[]; result: T }): Promise<T> {
    return this.queue(async () => {
      const { records } = await this.readAll();
      const { keep, result } = fn(records);
      if (keep.length !== records.length) await this.writeAll(keep);
      return result;
    });
  }

  /** Resolves once every operation queued so far has ended (failed ones included). */
  settled(): Promise<void> {
    return this.chain.then(
      () => undefined,
      () => undefined,
    );
  }

  private queue<T>(op: () => Promise<T>): Promise<T> {
    const p = this.chain.then(op, op);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async ensureDir(): Promise<void> {
    if (this.dirReady) return;
    await mkdir(dirname(this.path), { recursive: true });
    this.dirReady = true;
  }

  private async writeAll(records: readonly unknown[]): Promise<void> {
    await this.ensureDir();
    const tmp = `${this.path}.${process.pid}.${++this.tmpSeq}.tmp`;
    await writeFile(tmp, records.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 });
    await rename(tmp, this.path);
  }

  private async readAll(): Promise<{ records: unknown[]; bad: number }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], bad: 0 };
      throw err;
    }
    const records: unknown[] = [];
    let bad = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        bad++;
      }
    }
    return { records, bad };
  }
}
