import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WavFileWriter } from '../../../src/recording/wav-file-writer.ts';
import { readWavFile } from '../../helpers/audio-analysis.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-wavw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ramp(n: number, from = 0): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => ((from + i) % 20000) - 10000);
}

describe('WavFileWriter', () => {
  it('buffers appends in memory until a flush; the header then names exactly what is written', async () => {
    const w = new WavFileWriter(join(dir, 'a.wav'), 16000, 1);
    w.append(ramp(320));
    w.append(ramp(320, 320));
    await w.whenIdle(); // the file is created off the caller's turn
    assert.equal(readFileSync(w.path).length, 44, 'nothing written before flush');
    assert.equal(readWavFile(w.path).headerDataBytes, 0);
    w.flush();
    await w.whenIdle();
    const r = readWavFile(w.path);
    assert.equal(r.headerDataBytes, 1280);
    assert.deepEqual(r.samples, ramp(640));
    w.close();
    await w.closed;
  });

  it('hashes the file as it completes it: sha256 is that of the bytes on disk, across many flushes', async () => {
    const w = new WavFileWriter(join(dir, 'h.wav'), 8000, 1);
    assert.equal(w.sha256, null);
    let written = 0;
    for (let k = 0; k < 200; k++) {
      w.append(ramp(160 + (k % 7), written)); // odd sizes: partial chunks copied at each flush
      written += 160 + (k % 7);
      if (k % 10 === 0) w.flush();
    }
    w.close();
    await w.closed;
    assert.deepEqual(readWavFile(w.path).samples, ramp(written));
    assert.equal(w.sha256, createHash('sha256').update(readFileSync(w.path)).digest('hex'));
  });

  it('close writes the rest and the final header even with a write in flight; idempotent', async () => {
    const w = new WavFileWriter(join(dir, 'b.wav'), 48000, 2);
    let written = 0;
    for (let k = 0; k < 50; k++) {
      w.append(ramp(1920, written));
      written += 1920;
      if (k === 25) w.flush(); // in flight when closeSync runs
    }
    w.close();
    w.close();
    w.append(ramp(10)); // ignored after close
    await w.closed;
    const r = readWavFile(w.path);
    assert.equal(r.channels, 2);
    assert.equal(r.headerDataBytes, written * 2);
    assert.deepEqual(r.samples, ramp(written));
    assert.equal(w.frames, written / 2);
  });

  it('reports once when more than 30 s wait for the disk, and keeps the audio', async () => {
    const errors: Error[] = [];
    const w = new WavFileWriter(join(dir, 'slow.wav'), 16000, 1, { error: (e) => errors.push(e) });
    for (let i = 0; i < 40 * 50; i++) w.append(new Int16Array(320));
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /waiting for the disk/);
    w.close();
    await w.closed;
    assert.equal(readWavFile(w.path).samples.length, 40 * 16000);
  });

  it('never overwrites an existing file: the second writer reports it and gives up', async () => {
    const w = new WavFileWriter(join(dir, 'c.wav'), 16000, 1);
    w.append(ramp(320));
    w.close();
    await w.closed;
    const errors: Error[] = [];
    const again = new WavFileWriter(join(dir, 'c.wav'), 16000, 1, { error: (e) => errors.push(e) });
    again.append(ramp(640));
    again.close();
    await again.closed;
    assert.match(errors[0]?.message ?? '', /EEXIST/);
    assert.deepEqual(readWavFile(w.path).samples, ramp(320), 'the first file is untouched');
  });

  it('close() makes no synchronous file call: no byte is written before the caller yields', async () => {
    const path = join(dir, 'async.wav');
    const w = new WavFileWriter(path, 16000, 1);
    w.append(ramp(320));
    w.close();
    // The open runs on libuv's pool and may create the (empty) file before this line; every write
    // waits for its callback on this thread, so no byte can be on disk within the same turn.
    assert.equal(existsSync(path) ? statSync(path).size : 0, 0, 'no byte on disk within the same turn');
    await w.closed;
    const r = readWavFile(path);
    assert.equal(r.headerDataBytes, 640);
    assert.deepEqual(r.samples, ramp(320));
  });

  it('with headerEveryPasses: the header lags the data by fewer passes, never claims more, and is exact at close', async () => {
    const path = join(dir, 'lag.wav');
    const w = new WavFileWriter(path, 8000, 1, {}, null, 3);
    await w.whenIdle(); // created, with its empty header
    const claims: number[] = [];
    for (let pass = 1; pass <= 6; pass++) {
      w.append(ramp(160, (pass - 1) * 160));
      w.flush();
      await w.whenIdle();
      const onDisk = statSync(path).size - 44;
      assert.equal(onDisk, pass * 320, `pass ${pass}: every appended sample is on disk`);
      const r = readWavFile(path);
      assert.ok(r.headerDataBytes <= onDisk, 'the header never claims data that is not there');
      claims.push(r.headerDataBytes / 2);
    }
    assert.deepEqual(claims, [0, 0, 480, 480, 480, 960], 'the header is rewritten every third pass');
    w.append(ramp(80, 960));
    w.close();
    await w.closed;
    const r = readWavFile(path);
    assert.equal(r.headerDataBytes, 1040 * 2, 'close writes the exact header');
    assert.deepEqual(r.samples, ramp(1040));
  });
});
