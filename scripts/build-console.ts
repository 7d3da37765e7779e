// Builds the web console (web/console/src) into web/console/dist: one bundled,
// minified script and one stylesheet, named by their content hash (served as
// immutable), and index.html pointing at them. The output is committed; `--check`
// builds in memory and fails when dist/ differs (the test suite runs it, so a
// source change without a rebuild is caught).
//   node --import tsx scripts/build-console.ts           write dist/
//   node --import tsx scripts/build-console.ts --check   compare only
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web/console');
const dist = join(web, 'dist');

/** The files of a build: path under dist/ → content. */
export async function buildConsole(): Promise<Map<string, Buffer>> {
  const common: BuildOptions & { write: false } = { bundle: true, minify: true, write: false, legalComments: 'none', logLevel: 'silent', target: ['chrome110', 'firefox115', 'safari16'] };
  const js = await build({ ...common, entryPoints: [join(web, 'src/main.ts')], format: 'esm', outfile: 'app.js' });
  const css = await build({ ...common, entryPoints: [join(web, 'src/console.css')], outfile: 'app.css' });
  const out = new Map<string, Buffer>();
  const named = (base: string, ext: string, bytes: Uint8Array): string => {
    const name = `${base}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.${ext}`;
    out.set(`assets/${name}`, Buffer.from(bytes));
    return name;
  };
  const jsName = named('app', 'js', js.outputFiles[0]!.contents);
  const cssName = named('app', 'css', css.outputFiles[0]!.contents);
  const page = (await readFile(join(web, 'index.html'), 'utf8')).replace('{{js}}', jsName).replace('{{css}}', cssName);
  out.set('index.html', Buffer.from(page));
  return out;
}

/** What dist/ holds now. */
async function current(): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    out.set('index.html', await readFile(join(dist, 'index.html')));
    for (const f of await readdir(join(dist, 'assets'))) out.set(`assets/${f}`, await readFile(join(dist, 'assets', f)));
  } catch {
    // missing: compared as empty
  }
  return out;
}

/** The differences between a fresh build and dist/ (empty: current). */
export async function staleConsoleFiles(): Promise<string[]> {
  const want = await buildConsole();
  const have = await current();
  const diff: string[] = [];
  for (const [f, b] of want) if (!have.get(f)?.equals(b)) diff.push(`${f}: ${have.has(f) ? 'differs' : 'missing'}`);
  for (const f of have.keys()) if (!want.has(f)) diff.push(`${f}: not part of the build`);
  return diff;
}

async function main(): Promise<void> {
  if (process.argv.includes('--check')) {
    const diff = await staleConsoleFiles();
    if (diff.length > 0) {
      console.error(`web/console/dist is not current (run npm run build:console):\n  ${diff.join('\n  ')}`);
      process.exit(1);
    }
    console.log('web/console/dist is current');
    return;
  }
  const files = await buildConsole();
  await rm(dist, { recursive: true, force: true });
  for (const [f, b] of files) {
    await mkdir(dirname(join(dist, f)), { recursive: true });
    await writeFile(join(dist, f), b);
  }
  for (const [f, b] of files) console.log(`${f}  ${b.length} bytes`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
