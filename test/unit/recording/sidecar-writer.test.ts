import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { finalizeRecording } from '../../../src/recording/finalize-recording.ts';
import { newMetadata } from '../../../src/recording/metadata.ts';
import { SidecarWriter } from '../../../src/recording/sidecar-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-sidecar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SidecarWriter', () => {
  it('writes nothing synchronously; writes asked for meanwhile collapse and the newest wins', async () => {
    const errors: Error[] = [];
    const w = new SidecarWriter(join(dir, 'a.json'), { error: (e) => errors.push(e) });
    const value = { v: 1 };
    const first = w.write(value);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('a.')), [], 'nothing on disk in the same turn');
    value.v = 99; // serialized when asked for: a later change does not leak into that write
    const writes = [2, 3, 4, 5].map((v) => w.write({ v }));
    assert.equal(await first, true);
    assert.ok((await Promise.all(writes)).every(Boolean));
    assert.deepEqual(JSON.parse(readFileSync(w.path, 'utf8')), { v: 5 });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('a.')), ['a.json'], 'no temp files left');
    assert.equal(w.busy, false);
    assert.deepEqual(errors, []);
  });

  it('reports a failed write once, resolves false, leaves no temp file, and says when writes work again', async () => {
    const errors: Error[] = [];
    const sub = join(dir, 'sub');
    let resumed = 0;
    const w = new SidecarWriter(join(sub, 'c.json'), { error: (e) => errors.push(e), resumed: () => resumed++ });
    assert.equal(await w.write({ v: 1 }), true, 'its folder is created');
    // A directory where the temp file must go makes the write fail the way a full disk does.
    rmSync(sub, { recursive: true });
    writeFileSync(sub, 'not a folder');
    assert.equal(await w.write({ v: 2 }), false);
    assert.equal(await w.write({ v: 3 }), false);
    assert.equal(errors.length, 1, 'reported once per outage');
    rmSync(sub);
    mkdirSync(sub);
    assert.equal(await w.write({ v: 4 }), true);
    assert.equal(resumed, 1, 'and its end said once');
    assert.deepEqual(readdirSync(sub), ['c.json'], 'no temp file left');
  });

  it('a final sidecar that cannot be written is vouched for by no step (signature, audit, upload) until a retry wrote it', async () => {
    const sub = join(dir, 'full');
    mkdirSync(sub);
    const w = new SidecarWriter(join(sub, 'r.json'), { error: () => undefined });
    const ran: string[] = [];
    const steps = [{ name: 'sign', run: async (r: { meta: { state: string } }) => void ran.push(`sign ${r.meta.state}`) }];
    const meta = newMetadata({ room: 'room', sampleRate: 8000, pauseMode: 'skip', startedAt: new Date(), mix: { file: 'r.mix.wav', channels: 1, sampleRate: 8000, durationMs: 0, sha256: null }, stereo: null, postProcess: 'none' });
    const files = [meta.mix];
    // The disk is "full": the folder is replaced by a file, so the sidecar's write fails.
    rmSync(sub, { recursive: true });
    writeFileSync(sub, 'not a folder');
    const save = (): Promise<boolean> => w.write(meta);
    const done = await finalizeRecording({ id: 'r', meta, files, closed: [], hashes: new Map(files.map((f) => [f.file, 'x'])), pathOf: (f) => join(sub, f), postProcessor: undefined, save, onProgress: () => undefined, steps });
    assert.equal(done, false);
    assert.deepEqual(ran, [], 'nothing signed a sidecar that is not on disk');
    rmSync(sub);
    mkdirSync(sub);
    const written = new Promise<void>((resolve) => w.retryWhileFailing(save, () => undefined, async () => {
      for (const s of steps) await s.run({ meta });
      resolve();
    }));
    const hold = setInterval(() => undefined, 1000); // the retry's timer is unref'd
    await written.finally(() => clearInterval(hold));
    assert.equal(JSON.parse(readFileSync(w.path, 'utf8')).state, 'finalized');
    assert.deepEqual(ran, ['sign finalized'], 'signed once it is on disk');
  });
});
