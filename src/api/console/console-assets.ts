// The console's built files (web/console/dist, made by scripts/build-console.ts),
// read into memory once when the API starts. Only the names found there are ever
// served: a request names a key of this map or gets 404, so there is no path to
// resolve and nothing to traverse. Assets carry a content hash in their name and
// are cached for a year; index.html is revalidated on every load.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConsoleAsset {
  body: Buffer;
  type: string;
  /** Content-hashed name: never changes, cache forever. */
  immutable: boolean;
}

export const CONSOLE_DIST = fileURLToPath(new URL('../../../web/console/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

/** What a built asset's name looks like: `name-<8+ hex>.ext`. */
const ASSET_NAME = /^[a-z0-9-]+-[0-9a-f]{8,}\.(js|css|svg|png|map)$/;

export class ConsoleAssets {
  private constructor(
    readonly index: ConsoleAsset | null,
    private readonly assets: Map<string, ConsoleAsset>,
  ) {}

  /** Reads `dir`; a missing build gives an empty set (the console then answers 503 saying how to build it). */
  static async load(dir = CONSOLE_DIST): Promise<ConsoleAssets> {
    let index: ConsoleAsset | null = null;
    const assets = new Map<string, ConsoleAsset>();
    try {
      index = { body: await readFile(join(dir, 'index.html')), type: TYPES['.html']!, immutable: false };
    } catch {
      return new ConsoleAssets(null, assets);
    }
    let names: string[] = [];
    try {
      names = await readdir(join(dir, 'assets'));
    } catch {
      names = [];
    }
    for (const name of names) {
      if (!ASSET_NAME.test(name)) continue;
      assets.set(name, { body: await readFile(join(dir, 'assets', name)), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: true });
    }
    return new ConsoleAssets(index, assets);
  }

  asset(name: string): ConsoleAsset | undefined {
    return this.assets.get(name);
  }
}
