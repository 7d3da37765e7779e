// parley-tests: beside
// The temporary copies of bucket objects a download makes (src/api/bucket-copies.ts)
// outlive a Parley killed with SIGKILL (no close() runs): the next Parley's start removes
// them, and leaves alone those of another Parley running on the same machine, which
// still serves from its copy. Parleys as their own processes, a real s3rver.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingStoreConfig } from '../../src/config/recording-store-schema.ts';
import { RecordingService } from '../../src/recording/recording-service.ts';
import { RecordingUploader } from '../../src/recording/store/recording-uploader.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { TEST_TOKEN } from '../helpers/api-client.ts';
import { channel, medianToneShare } from '../helpers/audio-analysis.ts';
import { freePort } from '../helpers/free-port.ts';
import { ToneRoom } from '../helpers/mix-ticks.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';

const work = mkdtempSync(join(tmpdir(), 'parley-copies-kill-'));
let s3: S3TestServer;
const procs: ParleyProcess[] = [];
before(async () => {
  s3 = await startS3();
});
after(async () => {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    p.child.kill('SIGKILL');
    await once(p.child, 'exit');
  }
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Folders of bucket-object copies in the temp folder the spawned Parleys share with this test (this version's and older ones'). */
const copyFolders = (): Set<string> => new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('parley-export')));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function parley(recordings: string, name: string): Promise<{ p: ParleyProcess; base: string }> {
  const port = await freePort();
  const state = join(work, name);
  mkdirSync(state, { recursive: true });
  const p = await spawnParley(`api: { enabled: true, port: ${port}, token: ${TEST_TOKEN}, rulesStateFile: ${state}/rules.json, webhookSpoolFile: ${state}/spool.json }\n`, {
    recordings,
    recording: `store: ${JSON.stringify(storeConfig(s3))}`,
  });
  procs.push(p);
  return { p, base: `http://127.0.0.1:${port}` };
}

async function download(base: string, path: string): Promise<Buffer> {
  const r = await fetch(base + path, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200, body.toString().slice(0, 300));
  return body;
}

describe('copies of bucket objects after a kill -9 (spawned Parleys, s3rver)', () => {
  it("the next start removes a killed Parley's copies, never a running Parley's", async () => {
    // A recording stored in the bucket, its local audio removed: downloads are served from copies.
    const dirA = join(work, 'recordings-a');
    const svc = new RecordingService({ dir: dirA, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'copies', sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 3000);
    rec.close();
    const meta = await rec.finalized;
    svc.close();
    const up = new RecordingUploader({ dir: dirA, config: storeConfig(s3) as unknown as RecordingStoreConfig, log: silentLogger() });
    await up.start();
    const stored = up.waitFor('stored');
    await up.enqueue(rec.id, meta);
    await stored;
    up.close();
    const file = meta.stereo!.file;
    assert.equal(existsSync(join(dirA, file)), false, 'served from the bucket');
    // Another Parley's recordings folder, indexing the same stored recording.
    const dirB = join(work, 'recordings-b');
    mkdirSync(dirB);
    copyFileSync(join(dirA, `${rec.id}.json`), join(dirB, `${rec.id}.json`));
    const path = `/recordings/${rec.id}/files/${file}`;

    const before = copyFolders();
    const a = await parley(dirA, 'a');
    const got = await download(a.base, path);
    assert.equal(sha(got), meta.stereo!.sha256, 'the download is the recording');
    const pcm = new Int16Array(got.buffer.slice(got.byteOffset + 44, got.byteOffset + got.length));
    assert.ok(medianToneShare(channel(pcm, 2, 0), 440, 16000) > 0.9, 'its caller is the 440 Hz tone');
    const ofA = [...copyFolders()].filter((n) => !before.has(n));
    assert.ok(ofA.length > 0, 'A keeps a copy after the download');
    const b = await parley(dirB, 'b');
    await download(b.base, path);
    const ofB = [...copyFolders()].filter((n) => !before.has(n) && !ofA.includes(n));
    assert.ok(ofB.length > 0, 'B keeps a copy of its own');

    a.p.child.kill('SIGKILL');
    await once(a.p.child, 'exit');
    for (const n of ofA) assert.ok(existsSync(join(tmpdir(), n)), `${n}: the kill left A's copies`);

    // The next Parley on A's folder (any Parley's start would do): A's copies go, B's stay.
    const c = await parley(dirA, 'c');
    for (const n of ofA) assert.equal(existsSync(join(tmpdir(), n)), false, `${n}: A's copies removed at the next start`);
    const kept = ofB.flatMap((n) => readdirSync(join(tmpdir(), n)).map((f) => readFileSync(join(tmpdir(), n, f))));
    assert.ok(kept.some((k) => sha(k) === meta.stereo!.sha256), "B's copy is intact");
    assert.equal(sha(await download(b.base, path)), meta.stereo!.sha256, 'B serves on');
    assert.equal(sha(await download(c.base, path)), meta.stereo!.sha256, 'the new Parley serves too');
    for (const p of [b.p, c.p]) {
      p.child.kill('SIGINT');
      await once(p.child, 'exit');
    }
  });
});
