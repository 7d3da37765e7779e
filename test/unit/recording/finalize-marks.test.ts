// FinalizeMarks (src/recording/finalize-marks.ts): marks as lines of one log written by
// the recording I/O thread, an older Parley's `.finalizing/` files read and removed,
// the log rewritten to its open marks once it is long.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { COMPACT_LINES, FinalizeMarks, openMarks } from '../../../src/recording/finalize-marks.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-marks-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('FinalizeMarks', () => {
  it('lists what was begun and not ended, from the log another instance wrote', async () => {
    const dir = join(root, 'basic');
    const marks = new FinalizeMarks(dir);
    await Promise.all(['a', 'b', 'c'].map((id) => marks.begin(id)));
    await marks.end('b');
    const text = readFileSync(join(dir, '.parley', 'finalizing.log'), 'utf8');
    assert.deepEqual(text.split('\n').filter(Boolean).sort(), ['+a', '+b', '+c', '-b']);
    assert.deepEqual((await new FinalizeMarks(dir).list()).sort(), ['a', 'c']);
    // A recording marked again (a resumed encoding) after its end is open again.
    await marks.end('a');
    await marks.begin('a');
    assert.deepEqual((await new FinalizeMarks(dir).list()).sort(), ['a', 'c']);
    assert.ok(!existsSync(join(dir, '.finalizing')), 'no folder of marks');
    assert.deepEqual(readdirSync(dir), ['.parley'], 'nothing else in the recordings folder');
  });

  it("reads an older Parley's mark files, and removes each (and the folder) at its end", async () => {
    const dir = join(root, 'legacy');
    mkdirSync(join(dir, '.finalizing'), { recursive: true });
    writeFileSync(join(dir, '.finalizing', 'old1'), '');
    writeFileSync(join(dir, '.finalizing', 'old2'), '');
    const marks = new FinalizeMarks(dir);
    await marks.begin('new1');
    assert.deepEqual((await marks.list()).sort(), ['new1', 'old1', 'old2']);
    await marks.end('old1');
    assert.ok(!existsSync(join(dir, '.finalizing', 'old1')));
    assert.ok(existsSync(join(dir, '.finalizing', 'old2')), 'the other mark stays');
    await marks.end('old2');
    assert.ok(!existsSync(join(dir, '.finalizing')), 'the folder goes with its last mark');
    assert.deepEqual(await marks.list(), ['new1']);
  });

  it('rewrites a long log to the marks still open', async () => {
    const dir = join(root, 'compact');
    const marks = new FinalizeMarks(dir);
    await marks.begin('kept-from-the-start');
    const ids = Array.from({ length: COMPACT_LINES }, (_, i) => `r${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      const batch = ids.slice(i, i + 100);
      await Promise.all(batch.map((id) => marks.begin(id)));
      await Promise.all(batch.slice(0, 99).map((id) => marks.end(id)));
    }
    const text = readFileSync(join(dir, '.parley', 'finalizing.log'), 'utf8');
    const lines = text.split('\n').filter(Boolean).length;
    assert.ok(lines < COMPACT_LINES, `rewritten: ${lines} lines`);
    const open = ids.filter((_, i) => i % 100 === 99);
    assert.deepEqual([...openMarks(text)].sort(), ['kept-from-the-start', ...open].sort());
    assert.deepEqual((await marks.list()).sort(), ['kept-from-the-start', ...open].sort());
    assert.deepEqual(readdirSync(join(dir, '.parley')), ['finalizing.log'], 'no temp file left');
  });
});
