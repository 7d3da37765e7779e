// FinalizeMarks: a mark per recording between its final sidecar and its report, kept
// by renaming spares rather than creating and removing a file per recording.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FinalizeMarks } from '../../../src/recording/finalize-marks.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-marks-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));

const marksIn = (dir: string): string[] => readdirSync(join(dir, '.finalizing')).filter((n) => !n.startsWith('.')).sort();

describe('finalize marks', () => {
  it('marks and unmarks recordings over the same inodes: an ended mark becomes the next one (no create, no remove)', async () => {
    const dir = join(root, 'reuse');
    const marks = new FinalizeMarks(dir);
    const inodes = new Set<number>();
    for (let i = 0; i < 8; i++) {
      await marks.begin(`r${i}`);
      assert.deepEqual(marksIn(dir), [`r${i}`]);
      assert.deepEqual(await marks.list(), [`r${i}`]);
      inodes.add(statSync(join(dir, '.finalizing', `r${i}`)).ino);
      await marks.end(`r${i}`);
      assert.deepEqual(await marks.list(), []);
    }
    assert.equal(inodes.size, 1, `inodes used: ${[...inodes].join(', ')}`);
    await marks.close();
    assert.ok(!existsSync(join(dir, '.finalizing')), 'close() removes the spares and the folder');
  });

  it('keeps several marks at once, each its own file; close() leaves the folder while a mark remains, and the next start lists it', async () => {
    const dir = join(root, 'several');
    const marks = new FinalizeMarks(dir);
    await Promise.all(['a', 'b', 'c'].map((id) => marks.begin(id)));
    await marks.end('b');
    await marks.begin('d');
    assert.deepEqual(await marks.list(), ['a', 'c', 'd']);
    await marks.end('a');
    await marks.close();
    assert.deepEqual(readdirSync(join(dir, '.finalizing')).sort(), ['c', 'd'], 'no spare left, the marks kept');
    const next = new FinalizeMarks(dir);
    assert.deepEqual(await next.list(), ['c', 'd']);
    await next.end('c');
    await next.end('d');
    await next.close();
    assert.ok(!existsSync(join(dir, '.finalizing')));
  });

  it('takes up the spares a killed run left (they name no recording) and ends an unknown mark quietly', async () => {
    const dir = join(root, 'leftovers');
    mkdirSync(join(dir, '.finalizing'), { recursive: true });
    writeFileSync(join(dir, '.finalizing', '.spare-old-0'), '');
    writeFileSync(join(dir, '.finalizing', 'x'), '');
    const marks = new FinalizeMarks(dir);
    assert.deepEqual(await marks.list(), ['x']);
    const spareIno = statSync(join(dir, '.finalizing', '.spare-old-0')).ino;
    await marks.begin('y');
    assert.equal(statSync(join(dir, '.finalizing', 'y')).ino, spareIno, 'the leftover spare became the mark');
    await marks.end('nothing-here');
    await marks.end('x');
    await marks.end('y');
    await marks.close();
    assert.ok(!existsSync(join(dir, '.finalizing')));
  });

  it('a mark ended after close() is removed with its folder', async () => {
    const dir = join(root, 'late');
    const marks = new FinalizeMarks(dir);
    await marks.begin('r1');
    await marks.close();
    assert.deepEqual(readdirSync(join(dir, '.finalizing')), ['r1']);
    await marks.end('r1');
    assert.ok(!existsSync(join(dir, '.finalizing')));
  });
});
