// PromptDirWatch on real folders (inotify): a change in a watched folder moves the
// generation on; a folder that cannot be watched is reported as such (its prompts
// are then checked at every play) without throwing; close() stops it all.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PromptDirWatch } from '../../../src/playback/prompt-dir-watch.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('PromptDirWatch', () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-prompt-watch-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a file written in a watched folder moves the generation on; an unchanged folder does not', async () => {
    const dir = join(root, 'a');
    mkdirSync(dir);
    const w = new PromptDirWatch(silentLogger());
    assert.equal(w.watchAll([dir, dir]), true);
    assert.equal(w.watching, 1, 'one watcher per folder');
    const g = w.generation;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(w.generation, g, 'nothing happened');
    writeFileSync(join(dir, 'x.wav'), 'x');
    await waitFor('the change to be seen', () => w.generation > g);
    w.close();
  });

  it('a missing folder cannot be watched: false, no throw, not tried again; close() ends watching', () => {
    const w = new PromptDirWatch(silentLogger());
    const dir = join(root, 'b');
    mkdirSync(dir);
    assert.equal(w.watchAll([dir, join(root, 'missing')]), false);
    assert.equal(w.watching, 1);
    mkdirSync(join(root, 'missing'));
    assert.equal(w.watchAll([join(root, 'missing')]), false, 'a folder that failed is not trusted again');
    const g = w.generation;
    w.close();
    w.close();
    assert.equal(w.watching, 0);
    assert.ok(w.generation > g, 'clips checked under the watch are stale after close');
    assert.equal(w.watchAll([dir]), false, 'nothing is watched after close');
  });
});
