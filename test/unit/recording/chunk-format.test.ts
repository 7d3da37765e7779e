// The sealed chunk format: what decrypts, and each way a file can be altered or
// cut, told apart (tolerant reading accepts only a crash's torn end).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FLAG_FINAL, newFileHeader, sealChunk, trailerPlain } from '../../../src/recording/encryption/chunk-format.ts';
import { decryptChunks } from '../../../src/recording/encryption/decrypt-reader.ts';

const key = randomBytes(32);
const h = newFileHeader(1, 16000);
const plains = [randomBytes(640), randomBytes(320), randomBytes(960)];
const chunks = plains.map((p, i) => sealChunk(key, h, i, p));
const trailer = sealChunk(key, h, 3, trailerPlain(1920), FLAG_FINAL);

async function read(parts: Buffer[], tolerant: boolean): Promise<{ plain: Buffer; complete: boolean; stoppedAt: string | null }> {
  const out: Buffer[] = [];
  const gen = decryptChunks((async function* () { yield Buffer.concat(parts); })(), key, 'f', tolerant);
  for (;;) {
    const r = await gen.next();
    if (r.done) return { plain: Buffer.concat(out), complete: r.value.complete, stoppedAt: r.value.stoppedAt };
    out.push(r.value);
  }
}

describe('encrypted chunk format', () => {
  it('round-trips, and the trailer marks it complete', async () => {
    const r = await read([h.raw, ...chunks, trailer], false);
    assert.deepEqual(r.plain, Buffer.concat(plains));
    assert.equal(r.complete, true);
  });

  it('tolerant reading stops at a torn last chunk (a kill -9), strict refuses it', async () => {
    const torn = chunks[2].subarray(0, 100);
    const r = await read([h.raw, chunks[0], chunks[1], torn], true);
    assert.deepEqual(r.plain, Buffer.concat(plains.slice(0, 2)));
    assert.equal(r.complete, false);
    assert.match(r.stoppedAt ?? '', /chunk 2 torn/);
    await assert.rejects(read([h.raw, chunks[0], chunks[1], torn], false), /incomplete/);
  });

  it('refuses altered, reordered and removed chunks, even tolerant', async () => {
    const flipped = Buffer.from(chunks[0]);
    flipped[20] ^= 1;
    await assert.rejects(read([h.raw, flipped, chunks[1], chunks[2], trailer], true), /chunk 0 does not authenticate/);
    await assert.rejects(read([h.raw, chunks[1], chunks[0], chunks[2], trailer], true), /chunk 0 is numbered 1/);
    await assert.rejects(read([h.raw, chunks[0], chunks[2], trailer], true), /chunk 1 is numbered 2/);
    await assert.rejects(read([h.raw, chunks[0], chunks[1], trailer], true), /chunk 2 is numbered 3/, 'the last chunk removed');
    const lying = sealChunk(key, h, 3, trailerPlain(4000), FLAG_FINAL);
    await assert.rejects(read([h.raw, ...chunks, lying], true), /the trailer says 4000 bytes, the chunks hold 1920/);
    await assert.rejects(read([h.raw, ...chunks, trailer, chunks[0]], true), /data after the trailer/);
  });

  it('refuses another key and another file header', async () => {
    const other = newFileHeader(1, 16000);
    await assert.rejects(read([other.raw, ...chunks, trailer], true), /chunk 0 does not authenticate/);
    const otherKey = randomBytes(32);
    const gen = decryptChunks((async function* () { yield Buffer.concat([h.raw, ...chunks, trailer]); })(), otherKey, 'f', true);
    await assert.rejects(gen.next(), /chunk 0 does not authenticate \(altered, or another data key\)/);
  });
});
