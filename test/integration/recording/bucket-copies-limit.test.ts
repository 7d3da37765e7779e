// api.bucketCopiesMaxBytes bounds the temporary copies of recording.store objects that
// downloads make (src/api/bucket-copies.ts): while one download's copy is being filled
// (the gate holds the bucket's GET), a download of another stored file that would take
// the copies past the bound is refused with 503 and Retry-After, nothing fetched for it;
// once the first is done and its copy unused, the second is served (the unused copy
// goes to make room). A running Parley with its API, a real s3rver.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { apiBase, apiYaml, TEST_TOKEN } from '../../helpers/api-client.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';
import { startS3, storeConfig, type S3TestServer } from '../../helpers/s3-server.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-copies-limit-'));
let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A 2 s recording of one caller's tone, stored in the bucket (its local audio removed). */
async function stored(parley: RunningParley, hz: number): Promise<{ id: string; meta: RecordingMetadata }> {
  const recs = parley.app.recordings!;
  const rec = recs.createRecorder({ roomId: `tone-${hz}`, sampleRate: 16000 });
  rec.addLeg('a', { uri: 'sip:alice@example.com', callId: `cid-${hz}`, role: 'caller' });
  const tones = new ToneRoom(16000);
  tones.legs.set('a', hz);
  tones.feed(rec, 2000);
  const done = recs.store!.waitFor('stored', 30_000);
  rec.close();
  const meta = await rec.finalized;
  await done;
  return { id: rec.id, meta };
}

describe('api.bucketCopiesMaxBytes (a running Parley, s3rver)', () => {
  it('a download that would pass the bound while another copy fills gets 503 with Retry-After; served once there is room', async (t) => {
    // Each mix is 64,044 bytes: one copy fits, two do not.
    const parley = await startParley(apiYaml(join(root, 'rules.json'), '  bucketCopiesMaxBytes: 100000\n'), { recording: { extra: `store: ${JSON.stringify(storeConfig(s3))}` } });
    t.after(() => parley.stop());
    t.after(() => {
      s3.mode = 'pass';
      s3.releaseGets();
    });
    const base = apiBase(parley);
    const a = await stored(parley, 440);
    const b = await stored(parley, 880);
    const get = (r: { id: string; meta: RecordingMetadata }): Promise<Response> =>
      fetch(`${base}/recordings/${r.id}/files/${r.meta.mix.file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });

    s3.mode = 'stallGet';
    const first = get(a);
    await waitFor("the first download's GET held", () => s3.heldGets > 0 || undefined);
    // Refused, or (without the bound) its own GET reaches the gate and is held as well.
    const answer = get(b);
    const outcome = await Promise.race([answer, waitFor('a second GET held', () => s3.heldGets > 1 || undefined, 60_000).then(() => 'fetched' as const)]);
    assert.notEqual(outcome, 'fetched', 'the second download fetched its object past the bound');
    const refused = await answer;
    assert.equal(refused.status, 503, await refused.clone().text());
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.match(((await refused.json()) as { message: string }).message, /api\.bucketCopiesMaxBytes/);
    assert.equal(s3.heldGets, 1, 'nothing fetched for the refused download');

    s3.mode = 'pass';
    s3.releaseGets();
    const one = await first;
    assert.equal(one.status, 200);
    const second = await get(b);
    assert.equal(second.status, 200, 'served once the first copy is unused (it goes to make room)');
    // Each is its own recording: 440 Hz, then 880 Hz.
    for (const [r, hz] of [[one, 440], [second, 880]] as const) {
      const wav = Buffer.from(await r.arrayBuffer());
      const pcm = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
      assert.ok(medianToneShare(pcm, hz, 16000) > 0.9, `${hz} Hz`);
    }
  });
});
