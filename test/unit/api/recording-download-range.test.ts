// A Range request on a file the uploader removed. Unhashed, the part is asked of the
// bucket (a ranged GET); hashed (what GET does), the whole object is read once into a
// temporary copy, hashed, and the part is cut from that copy. Past the end: 416.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { RangeNotSatisfiable } from '../../../src/api/byte-range.ts';
import { openDownload } from '../../../src/api/recording-download.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import type { RecordingService } from '../../../src/recording/recording-service.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-range-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const object = Buffer.from('RIFF-from-the-bucket');
const gets: [number | undefined, number | undefined][] = [];
const bucket = {
  keyOf: (id: string, file: string) => `p/${id}/${file}`,
  urlOf: (key: string) => `s3://b/${key}`,
  head: async () => ({ size: object.length, etag: null, sha256: null }),
  get: async (_key: string, start?: number, end?: number) => {
    gets.push([start, end]);
    const part = object.subarray(start ?? 0, end === undefined ? undefined : end + 1);
    return { size: part.length, stream: Readable.from([part]) };
  },
};
const recs = { store: { bucket }, encryption: null } as unknown as RecordingService;
const meta = { mix: { file: 'r1.mix.wav' }, legs: [] } as unknown as RecordingMetadata;

async function text(s: Readable | null): Promise<string> {
  let out = '';
  for await (const c of s ?? []) out += (c as Buffer).toString();
  return out;
}

describe('openDownload with a Range, from the bucket', () => {
  it('unhashed: asks the bucket for the part only', async () => {
    const d = await openDownload(recs, dir, 'r1', meta, 'r1.mix.wav', { range: 'bytes=5-8' });
    assert.deepEqual([d.from, d.size, d.range], ['bucket', 4, { start: 5, end: 8, total: object.length }]);
    assert.equal(await text(d.stream), 'from');
    assert.deepEqual(gets.at(-1), [5, 8]);
    const all = await openDownload(recs, dir, 'r1', meta, 'r1.mix.wav');
    assert.equal(all.range, undefined);
    assert.equal(await text(all.stream), object.toString());
  });

  it('hashed: the whole object is read and hashed once, the part sent from the copy', async () => {
    const before = gets.length;
    const d = await openDownload(recs, dir, 'r1', meta, 'r1.mix.wav', { hash: true, range: 'bytes=5-8' });
    assert.deepEqual([d.from, d.size, d.range, d.sha256], ['bucket', 4, { start: 5, end: 8, total: object.length }, createHash('sha256').update(object).digest('hex')]);
    assert.equal(await text(d.stream), 'from');
    assert.deepEqual(gets.slice(before), [[0, object.length - 1]], 'one GET of the whole object, none after the hash');
  });

  it('past the end: 416 with the size', async () => {
    for (const hash of [false, true]) {
      await assert.rejects(
        openDownload(recs, dir, 'r1', meta, 'r1.mix.wav', { hash, range: `bytes=${object.length}-` }),
        (e: unknown) => e instanceof RangeNotSatisfiable && e.status === 416 && e.total === object.length,
      );
    }
  });
});
