// writeAtomic's keepTemp (a recording's sidecar while it records): each rewrite is still
// a rename over the file (a kill -9 leaves a complete version), but the inode replaced
// becomes the next temp file: no inode is allocated or freed from the second rewrite on.
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RecordingIo } from '../../../src/recording/io/recording-io.ts';
import { SidecarWriter } from '../../../src/recording/sidecar-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-keep-temp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ino = (p: string): number => statSync(p).ino;
const version = (v: number, pad = 0): string => JSON.stringify({ v, pad: 'x'.repeat(pad) }) + '\n';

describe('RecordingIo.writeAtomic with keepTemp', () => {
  it('rewrites over the same two inodes, each a complete version; a write without it leaves no temp file', async () => {
    const io = new RecordingIo();
    const p = join(dir, 'rec.json');
    await io.writeAtomic(p, version(1), undefined, true);
    assert.equal(readFileSync(p, 'utf8'), version(1));
    assert.equal(existsSync(`${p}.tmp`), false, 'no earlier version to keep');
    const first = ino(p);
    await io.writeAtomic(p, version(2, 3000), undefined, true);
    assert.equal(readFileSync(p, 'utf8'), version(2, 3000));
    assert.equal(ino(`${p}.tmp`), first, "the replaced version's inode is the next temp file");
    const inodes = new Set([ino(p), ino(`${p}.tmp`)]);
    // Longer, then shorter than the version in the temp file: each lands exactly (cut to its length).
    for (const [v, pad] of [[3, 9000], [4, 10], [5, 0]] as const) {
      await io.writeAtomic(p, version(v, pad), undefined, true);
      assert.equal(readFileSync(p, 'utf8'), version(v, pad), `version ${v}`);
      assert.deepEqual(new Set([ino(p), ino(`${p}.tmp`)]), inodes, `version ${v}: the same two inodes, no new one`);
    }
    await io.writeAtomic(p, version(6));
    assert.equal(readFileSync(p, 'utf8'), version(6));
    assert.ok(inodes.has(ino(p)), 'written over the kept temp file');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('rec.')), ['rec.json'], 'the temp file taken along');
  });

  it('a spare link left by a thread that died mid-rewrite is replaced; a rewrite sent again lands once', async () => {
    const io = new RecordingIo();
    const p = join(dir, 'dead.json');
    await io.writeAtomic(p, version(1), undefined, true);
    await io.writeAtomic(p, version(2), undefined, true);
    // As a thread killed between its link and its rename leaves it: a second name of the live version.
    linkSync(p, `${p}.1.tmp`);
    await io.writeAtomic(p, version(3), undefined, true);
    assert.equal(readFileSync(p, 'utf8'), version(3));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('dead.')).sort(), ['dead.json', 'dead.json.tmp']);
    // The thread runs the rewrite, then dies before answering: the new one runs it again.
    io.exitAfterNext('writeAtomic');
    await io.writeAtomic(p, version(4), undefined, true);
    assert.equal(io.threadDeaths, 1);
    assert.equal(readFileSync(p, 'utf8'), version(4));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('dead.')).sort(), ['dead.json', 'dead.json.tmp']);
  });

  it('a failed rewrite leaves the last version and no temp file', async () => {
    const io = new RecordingIo();
    const p = join(dir, 'fail.json');
    await io.writeAtomic(p, version(1), undefined, true);
    await io.writeAtomic(p, version(2), undefined, true);
    assert.ok(existsSync(`${p}.tmp`));
    // The rename cannot replace a folder: the rewrite fails after its temp file was written.
    rmSync(p);
    mkdirSync(p);
    writeFileSync(join(p, 'x'), '');
    await assert.rejects(io.writeAtomic(p, version(3), undefined, true), { code: 'EISDIR' });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('fail.json.')), [], 'no temp file left');
  });
});

describe('SidecarWriter keeps its temp file only while recording', () => {
  it("rewrites of a 'recording' sidecar keep <id>.json.tmp; the first in another state takes it along", async () => {
    const w = new SidecarWriter(join(dir, 'side.json'), { error: (e) => assert.fail(e) });
    assert.equal(await w.write({ state: 'recording', v: 1 }), true);
    assert.equal(await w.write({ state: 'recording', v: 2 }), true);
    const names = (): string[] => readdirSync(dir).filter((f) => f.startsWith('side.')).sort();
    assert.deepEqual(names(), ['side.json', 'side.json.tmp']);
    assert.equal(await w.write({ state: 'closed', v: 3 }), true);
    assert.deepEqual(names(), ['side.json']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'side.json'), 'utf8')), { state: 'closed', v: 3 });
  });
});
