// Parley's addons (media/native/*.c, built by media/native/build.sh into media/native/build/),
// found from here: this file sits two folders below the root, as the media threads' bundle
// (media/thread-bundle/) does, so the same relative URL names the addon from both.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where addon `name` is built. */
export function nativeAddonPath(name: string): string {
  return fileURLToPath(new URL(`../../media/native/build/${name}.node`, import.meta.url));
}

/** Loads addon `name` (once per thread: dlopen); null and why when it cannot be. */
export function loadNativeAddon<T>(name: string): { addon: T; error: null } | { addon: null; error: string } {
  const path = nativeAddonPath(name);
  if (process.platform !== 'linux') return { addon: null, error: 'only built on Linux' };
  try {
    return { addon: createRequire(import.meta.url)(path) as T, error: null };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    return { addon: null, error: missing ? `${path} not built (bash media/native/build.sh)` : (err as Error).message };
  }
}
