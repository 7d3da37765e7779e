import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SidecarWriter } from '../../../src/recording/sidecar-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-sidecar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function settled(w: SidecarWriter): Promise<void> {
  while (w.busy) await new Promise((r) => setImmediate(r));
}

describe('SidecarWriter', () => {
  it('an async write that finishes after a newer sync write never overwrites it', async () => {
    const errors: Error[] = [];
    const w = new SidecarWriter(join(dir, 'a.json'), (e) => errors.push(e));
    w.writeAsync({ v: 1 });
    w.writeAsync({ v: 2 });
    w.writeSync({ v: 3 });
    assert.deepEqual(JSON.parse(readFileSync(w.path, 'utf8')), { v: 3 });
    await settled(w);
    assert.deepEqual(JSON.parse(readFileSync(w.path, 'utf8')), { v: 3 });
    assert.deepEqual(readdirSync(dir), ['a.json'], 'no temp files left');
    assert.deepEqual(errors, []);
  });

  it('the newest async write wins', async () => {
    const w = new SidecarWriter(join(dir, 'b.json'), () => undefined);
    for (let v = 1; v <= 5; v++) w.writeAsync({ v });
    await settled(w);
    assert.deepEqual(JSON.parse(readFileSync(w.path, 'utf8')), { v: 5 });
  });

  it('reports a failed write instead of throwing', async () => {
    const errors: Error[] = [];
    const w = new SidecarWriter(join(dir, 'missing-dir', 'c.json'), (e) => errors.push(e));
    w.writeSync({});
    w.writeAsync({});
    await settled(w);
    assert.equal(errors.length, 2);
  });
});
