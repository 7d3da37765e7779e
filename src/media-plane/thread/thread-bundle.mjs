// The media thread's bundle (scripts/build-media-thread.mjs, at setup): media/thread-bundle/
// holds media-thread.mjs, its source map and media-thread.json, a manifest of the sources it
// was built from and a hash of them and of the bundle. Plain JavaScript: media-thread-boot.mjs
// runs it before any TypeScript can be loaded.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { URL } from 'node:url';

/** The folder of the bundle under Parley's root (a URL ending in /). */
export function bundleDir(root) {
  return new URL('media/thread-bundle/', root);
}

/** sha256 over every source (its path, then its bytes, as read from `root`), then the bundle's bytes. */
export function bundleHash(root, inputs, bundle) {
  const h = createHash('sha256');
  for (const f of inputs) h.update(`${f}\0`).update(readFileSync(new URL(f, root))).update('\0');
  return h.update(bundle).digest('hex');
}

/** The bundle's URL when the manifest's hash is that of the sources and of the bundle now, else null (not built, or stale). */
export function currentBundle(root) {
  const dir = bundleDir(root);
  try {
    const manifest = JSON.parse(readFileSync(new URL('media-thread.json', dir), 'utf8'));
    const bundle = readFileSync(new URL('media-thread.mjs', dir));
    return bundleHash(root, manifest.inputs, bundle) === manifest.hash ? new URL('media-thread.mjs', dir) : null;
  } catch {
    return null; // not built (no setup run), or a source gone
  }
}
