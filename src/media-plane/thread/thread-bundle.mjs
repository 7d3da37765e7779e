// The media thread's bundle (scripts/build-media-thread.mjs, at setup): media/thread-bundle/
// holds media-thread.mjs, its source map and media-thread.json, a manifest of the sources it
// was built from and a hash of them and of the bundle. The pool checks it once, at start
// (MediaThreadPool.create), and tells every thread it starts what to load. Plain JavaScript:
// the build script runs it without TypeScript hooks.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { URL } from 'node:url';

/** The folder of the bundle under Parley's root (a URL ending in /). */
export function bundleDir(root) {
  return new URL('media/thread-bundle/', root);
}

/** sha256 over every source (its path, then its bytes, as read from `root`), then the bundle's bytes. */
export async function bundleHash(root, inputs, bundle) {
  const h = createHash('sha256');
  for (const f of inputs) h.update(`${f}\0`).update(await readFile(new URL(f, root))).update('\0');
  return h.update(bundle).digest('hex');
}

/** The bundle's URL when the manifest's hash is that of the sources and of the bundle now, else null (not built, or stale). */
export async function currentBundle(root) {
  const dir = bundleDir(root);
  try {
    const manifest = JSON.parse(await readFile(new URL('media-thread.json', dir), 'utf8'));
    const bundle = await readFile(new URL('media-thread.mjs', dir));
    return (await bundleHash(root, manifest.inputs, bundle)) === manifest.hash ? new URL('media-thread.mjs', dir) : null;
  } catch {
    return null; // not built (no setup run), or a source gone
  }
}
