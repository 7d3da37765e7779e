import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CHUNK_BYTES, chunkPool } from '../../../src/recording/chunk-pool.ts';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
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

  it('uses its 64 KiB chunks again, never while their bytes still wait for the disk or a write in flight', async () => {
    const pool = chunkPool();
    const reusedBefore = pool.reused;
    const samplesPerChunk = CHUNK_BYTES / 2;
    // A: two and a half full chunks, not yet written (held in its segments).
    const a = new WavFileWriter(join(dir, 'pool-a.wav'), 16000, 1);
    const aLen = Math.floor(2.5 * samplesPerChunk);
    a.append(ramp(aLen));
    // B..: many files that fill, write and close chunks meanwhile, with other samples.
    const others = async (tag: number): Promise<void> => {
      const ws = Array.from({ length: 6 }, (_, i) => new WavFileWriter(join(dir, `pool-${tag}-${i}.wav`), 8000, 1));
      for (let k = 0; k < 3; k++) {
        for (const w of ws) w.append(new Int16Array(samplesPerChunk).fill(-1234));
        for (const w of ws) w.flush();
        await Promise.all(ws.map((w) => w.whenIdle()));
      }
      for (const w of ws) w.close();
      await Promise.all(ws.map((w) => w.closed));
    };
    await others(1);
    // A's pass in flight while the others take chunks from the pool (some of them A's, once written).
    a.flush();
    a.append(ramp(samplesPerChunk, aLen));
    await others(2);
    a.close();
    await a.closed;
    const r = readWavFile(a.path);
    assert.equal(r.samples.length, aLen + samplesPerChunk);
    assert.deepEqual(r.samples, ramp(aLen + samplesPerChunk), "no byte of A's was overwritten by a chunk given out too early");
    for (const tag of [1, 2]) {
      for (let i = 0; i < 6; i++) {
        const o = readWavFile(join(dir, `pool-${tag}-${i}.wav`)).samples;
        assert.equal(o.length, 3 * samplesPerChunk);
        assert.ok(o.every((v) => v === -1234), `file ${tag}-${i} holds only its own samples`);
      }
    }
    assert.ok(pool.reused - reusedBefore >= 12, `${pool.reused - reusedBefore} chunks used again`);
  });

  it('a chunk still being filled is not given out when its first part is written', async () => {
    const half = CHUNK_BYTES / 4; // samples in half a chunk
    const a = new WavFileWriter(join(dir, 'fill-a.wav'), 16000, 1);
    await a.whenIdle(); // created (a flush during that first pass would be skipped)
    a.append(new Int16Array(half).fill(1111));
    a.flush();
    await a.whenIdle(); // the first half of A's chunk is on disk; A goes on filling that chunk
    assert.equal(statSync(a.path).size, 44 + 2 * half);
    assert.ok(chunkPool().freeCount < 128, 'the pool has room (a chunk given back would be on top)');
    const b = new WavFileWriter(join(dir, 'fill-b.wav'), 16000, 1);
    b.append(new Int16Array(2 * half).fill(2222)); // a whole chunk, waiting in memory
    a.append(new Int16Array(half).fill(3333)); // the second half of A's chunk
    b.close();
    a.close();
    await Promise.all([a.closed, b.closed]);
    assert.ok(readWavFile(b.path).samples.every((v) => v === 2222), "B's chunk was never A's");
    const ra = readWavFile(a.path).samples;
    assert.equal(ra.length, 2 * half);
    assert.ok(ra.subarray(0, half).every((v) => v === 1111) && ra.subarray(half).every((v) => v === 3333));
  });
  it('a pass writes each buffered segment as it is and rewrites the header from one buffer of its own', async () => {
    // What a pass hands the recording I/O thread, seen at recordingIo().write: the writers'
    // garbage per pass was a new 44-byte Buffer per header and a view per write (bench:bridge).
    const io = recordingIo();
    const path = join(dir, 'pass-bufs.wav');
    const seen: { buf: Uint8Array; offset: number; length: number; position: number }[] = [];
    const write = io.write.bind(io);
    io.write = (fd, buf, offset, length, position) => {
      if (seen.length < 100 && fd >= 0) seen.push({ buf, offset, length, position });
      return write(fd, buf, offset, length, position);
    };
    try {
      const w = new WavFileWriter(path, 8000, 1);
      await w.whenIdle(); // created, with its empty header
      seen.length = 0;
      for (let pass = 1; pass <= 4; pass++) {
        w.append(ramp(160, (pass - 1) * 160));
        w.flush();
        await w.whenIdle();
      }
      w.close();
      await w.closed;
    } finally {
      io.write = write;
    }
    const headers = seen.filter((s) => s.position === 0);
    const data = seen.filter((s) => s.position !== 0);
    assert.equal(headers.length, 4, 'a header rewrite per pass (headerEveryPasses 1; close claims nothing new)');
    assert.ok(headers.every((h) => h.buf === headers[0]!.buf && h.offset === 0 && h.length === 44), 'every rewrite from the same 44-byte buffer');
    assert.deepEqual(data.map((d) => [d.offset, d.length, d.position]), [[0, 320, 44], [0, 320, 364], [0, 320, 684], [0, 320, 1004]], 'each segment whole, after the data on disk');
    const r = readWavFile(path);
    assert.equal(r.headerDataBytes, 1280);
    assert.deepEqual(r.samples, ramp(640));
  });
});
