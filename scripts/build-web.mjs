// Bundles the browser code (web/webrtc/) with esbuild into web/dist/webrtc/,
// which is committed (Parley serves it without a build step at start).
//   node scripts/build-web.mjs           build
//   node scripts/build-web.mjs --check   exit 1 when the committed files are not what the sources build to
import { build } from 'esbuild';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'web/webrtc');
const out = join(root, 'web/dist/webrtc');
const check = process.argv.includes('--check');

const common = {
  bundle: true,
  write: false,
  target: ['chrome111', 'firefox120', 'safari16'],
  legalComments: 'eof',
  minify: true,
  sourcemap: false,
  logLevel: 'error',
  absWorkingDir: root,
  define: { 'process.env.NODE_ENV': '"production"' },
};

const results = await Promise.all([
  build({ ...common, entryPoints: [join(src, 'join.ts')], format: 'iife', outfile: join(out, 'join.js') }),
  build({ ...common, entryPoints: [join(src, 'webrtc-client.ts')], format: 'esm', outfile: join(out, 'webrtc-client.js') }),
]);
const files = results.flatMap((r) => r.outputFiles.map((f) => ({ path: f.path, bytes: Buffer.from(f.contents) })));
files.push({ path: join(out, 'join.html'), bytes: await readFile(join(src, 'join.html')) });

if (check) {
  const stale = [];
  for (const f of files) {
    const have = await readFile(f.path).catch(() => null);
    if (!have || !have.equals(f.bytes)) stale.push(relative(root, f.path));
  }
  if (stale.length > 0) {
    console.error(`build-web: not current (run npm run build:web and commit): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.error('build-web: web/dist is current');
} else {
  await mkdir(out, { recursive: true });
  for (const f of files) await writeFile(f.path, f.bytes);
  console.error(`build-web: ${files.map((f) => `${relative(root, f.path)} ${f.bytes.length} B`).join(', ')}`);
}

