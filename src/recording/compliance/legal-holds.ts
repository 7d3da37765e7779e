// Legal holds: one small JSON file per held recording in <state dir>/holds/ (who
// put it on hold, when, why). A held recording is never deleted, whatever its
// retention says; only a release (DELETE /recordings/:id/hold) lifts it. Files
// rather than one list, so that a crash can never lose another recording's hold.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Hold {
  since: string;
  by: string;
  reason: string | null;
}

export class LegalHolds {
  private readonly holds = new Map<string, Hold>();

  constructor(readonly dir: string) {}

  async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const id = n.slice(0, -5);
      let hold: Hold = { since: new Date(0).toISOString(), by: 'unknown', reason: null };
      try {
        hold = JSON.parse(await readFile(join(this.dir, n), 'utf8')) as Hold;
      } catch {
        // A hold whose details cannot be read still holds.
      }
      this.holds.set(id, hold);
    }
  }

  get size(): number {
    return this.holds.size;
  }

  ids(): IterableIterator<string> {
    return this.holds.keys();
  }

  isHeld(id: string): boolean {
    return this.holds.has(id);
  }

  get(id: string): Hold | undefined {
    return this.holds.get(id);
  }

  /** On disk before it resolves; the map changes only then. */
  async hold(id: string, h: Hold): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `${id}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(h) + '\n', { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    this.holds.set(id, h);
  }

  async release(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.json`), { force: true });
    this.holds.delete(id);
  }
}
