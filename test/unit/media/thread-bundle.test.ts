// The media thread's bundle (scripts/build-media-thread.mjs) is used only while it is what the
// sources build to: its manifest's hash covers every source it was built from and the bundle.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundleDir, bundleHash, currentBundle } from '../../../src/media-plane/thread/thread-bundle.mjs';

const dir = mkdtempSync(join(tmpdir(), 'thread-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A root with two sources and a bundle built from them (its manifest written as the build script does). */
async function built(name: string): Promise<{ root: URL; src: (f: string, text: string) => void; bundle: (text: string) => void }> {
  const rootPath = join(dir, name);
  const root = pathToFileURL(`${rootPath}/`);
  const src = (f: string, text: string): void => {
    mkdirSync(join(rootPath, 'src'), { recursive: true });
    writeFileSync(join(rootPath, f), text);
  };
  const out = join(rootPath, 'media/thread-bundle');
  const bundle = (text: string): void => writeFileSync(join(out, 'media-thread.mjs'), text);
  src('src/a.ts', 'export const a = 1;\n');
  src('src/b.ts', 'export const b = 2;\n');
  mkdirSync(out, { recursive: true });
  bundle('const a = 1; const b = 2;\n');
  const inputs = ['src/a.ts', 'src/b.ts'];
  writeFileSync(join(out, 'media-thread.json'), JSON.stringify({ inputs, hash: await bundleHash(root, inputs, Buffer.from('const a = 1; const b = 2;\n')) }));
  return { root, src, bundle };
}

describe('media thread bundle', () => {
  it('is used when built from the sources as they are', async () => {
    const { root } = await built('current');
    assert.equal((await currentBundle(root))?.href, new URL('media-thread.mjs', bundleDir(root)).href);
    assert.match(bundleDir(root).href, /\/current\/media\/thread-bundle\/$/);
  });

  it('is not used once a source it was built from changed (the TypeScript runs instead)', async () => {
    const { root, src } = await built('edited');
    src('src/b.ts', 'export const b = 3;\n');
    assert.equal(await currentBundle(root), null);
  });

  it('is not used when the bundle itself changed, a source is gone, or there is none', async () => {
    const changed = await built('changed');
    changed.bundle('const a = 1; const b = 2; // edited\n');
    assert.equal(await currentBundle(changed.root), null);
    const gone = await built('gone');
    rmSync(new URL('src/a.ts', gone.root));
    assert.equal(await currentBundle(gone.root), null);
    const none = await built('none');
    rmSync(new URL('media-thread.json', bundleDir(none.root)));
    assert.equal(await currentBundle(none.root), null);
  });
});
