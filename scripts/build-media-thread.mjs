// Bundles the media thread (src/media-plane/thread/media-thread.ts and the Parley modules it
// imports; packages stay imports) with esbuild into media/thread-bundle/ (git-ignored;
// scripts/setup.sh runs this), with a manifest of the sources it was built from and their hash.
// A media thread started from TypeScript registers tsx in its worker and compiles or loads from
// tsx's cache some 70 modules through its hooks: about half a second of every Parley start (two
// threads on two cores), and of every media thread replaced. The pool (media-thread-pool.ts,
// thread-bundle.mjs) has its threads load the bundle when, at start, the manifest's hash is
// that of the sources and the bundle, else the TypeScript as before (a source edited since the
// last setup is never run stale).
//   node scripts/build-media-thread.mjs
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleDir, bundleHash } from '../src/media-plane/thread/thread-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rootUrl = pathToFileURL(`${root}/`);
// Two folders below the root, as src/util/native-addon.ts is: its URL relative to
// import.meta.url (the parley-udp and parley-opus addons) names the same file from the bundle.
const out = fileURLToPath(bundleDir(rootUrl));

const result = await build({
  entryPoints: [join(root, 'src/media-plane/thread/media-thread.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  keepNames: true,
  sourcemap: 'linked',
  metafile: true,
  write: false,
  outfile: join(out, 'media-thread.mjs'),
  absWorkingDir: root,
  logLevel: 'error',
});
const inputs = Object.keys(result.metafile.inputs).sort();
const outside = inputs.filter((f) => !f.startsWith('src/'));
if (outside.length > 0) throw new Error(`build-media-thread: bundled from outside src/: ${outside.join(', ')}`);
const bundle = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
await mkdir(out, { recursive: true });
await writeFile(bundle.path, bundle.contents);
if (map) await writeFile(map.path, map.contents);
await writeFile(join(out, 'media-thread.json'), JSON.stringify({ inputs, hash: await bundleHash(rootUrl, inputs, bundle.contents) }, null, 1) + '\n');
console.error(`build-media-thread: media/thread-bundle/media-thread.mjs ${bundle.contents.length} B from ${inputs.length} sources`);
