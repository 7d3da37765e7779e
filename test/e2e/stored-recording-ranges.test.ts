// A stored recording (uploaded to a real S3-compatible server, its local audio
// removed) fetched in parts through the API, as a player seeking in it does: every
// part is checked against the sidecar's sha256 (the whole object hashed), yet the
// object is fetched from the bucket once for all the parts while its ETag holds; a
// range past the end, or a HEAD, is answered without fetching it; an object altered in the
// bucket afterwards has a new ETag, is fetched again and refused (409 altered); a
// clean stop leaves no copy in the temp folder.
// Parley as its own process, a SIPp caller (440 Hz) and callee (1000 Hz).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S3Bucket } from '../../src/recording/store/s3-bucket.ts';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import type { RecordingStoreConfig } from '../../src/config/recording-store-schema.ts';
import { call as api, TEST_TOKEN } from '../helpers/api-client.ts';
import { channel, medianToneShare } from '../helpers/audio-analysis.ts';
import { freePort } from '../helpers/free-port.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startCallee, startCaller } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'parley-ranges-'));
let s3: S3TestServer;
let proc: ParleyProcess;
let base: string;
/** Copies other test files' Parleys left in the temp folder this run shares (one killed with kill -9 leaves its copies). */
let copiesBefore: Set<string>;

const FLOWS = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { record: { action: start } }, { bridge: { ringTimeout: 10 } }]
`;

before(async () => {
  s3 = await startS3();
  copiesBefore = new Set(exportCopies());
  const apiPort = await freePort();
  const store = JSON.stringify(storeConfig(s3, { journalFile: join(work, 'uploads.json') }));
  proc = await spawnParley(
    `${FLOWS}api: { enabled: true, port: ${apiPort}, token: ${TEST_TOKEN}, rulesStateFile: ${work}/rules.json, webhookSpoolFile: ${work}/spool.json }\n`,
    { recording: `store: ${store}` },
  );
  base = `http://127.0.0.1:${apiPort}`;
});

after(async () => {
  if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGINT');
    await once(proc.child, 'exit');
  }
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The temporary copies of bucket objects in the temp folder Parley shares with this test. */
function exportCopies(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('parley-export'));
}

async function get(path: string, range?: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const r = await fetch(base + path, { headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(range ? { range } : {}) } });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
}

describe('a stored recording fetched in parts (SIPp, s3rver)', () => {
  it('every part checked, the object fetched once while its ETag holds; 416 without a fetch; an altered object refused', async () => {
    const callee = await startCallee('callee.xml', 1000);
    const caller = await startCaller({ sipPort: proc.sipPort } as RunningParley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: 3000 });
    await Promise.all([caller.done, callee.done]);
    await caller.rtp.close();
    await callee.rtp.close();
    const stored = await waitFor('recording.stored', async () => {
      const r = await api(base, 'GET', '/events/recent');
      return (r.body?.events as Array<{ type: string; data: Record<string, unknown> }> | undefined)?.find((x) => x.type === 'recording.stored');
    }, 30_000);
    const id = String(stored.data.id);
    const meta = (await api(base, 'GET', `/recordings/${id}`)).body as RecordingMetadata;
    const file = meta.stereo!.file;
    assert.ok((stored.data.removedLocal as string[]).includes(file), 'the local stereo file is removed: it is served from the bucket');

    // The GETs of the object that reach the bucket (HEADs aside).
    let fetched = 0;
    s3.observe = (req) => {
      if (req.method === 'GET' && req.url?.includes(encodeURIComponent(file).replace(/%2F/g, '/'))) fetched++;
    };
    const path = `/recordings/${id}/files/${file}`;

    // Past the end: refused from the HEAD's size, nothing fetched.
    const past = await get(path, 'bytes=99999999-');
    assert.equal(past.status, 416);
    assert.equal(fetched, 0, 'a range past the end fetches nothing');

    // A HEAD answers from the bucket's HEAD: the size, nothing fetched.
    const head = await fetch(base + path, { method: 'HEAD', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 44);
    assert.equal(fetched, 0, 'a HEAD fetches nothing');

    // A player: the header, then the rest in parts, one request each.
    const header = await get(path, 'bytes=0-43');
    assert.equal(header.status, 206);
    const total = Number(header.headers.get('content-range')!.split('/')[1]);
    const parts = [header.body];
    const step = Math.ceil((total - 44) / 5);
    for (let at = 44; at < total; at += step) {
      const r = await get(path, `bytes=${at}-${Math.min(total, at + step) - 1}`);
      assert.equal(r.status, 206, r.body.toString().slice(0, 200));
      assert.equal(r.headers.get('content-range'), `bytes ${at}-${Math.min(total, at + step) - 1}/${total}`);
      parts.push(r.body);
    }
    const wav = Buffer.concat(parts);
    assert.equal(wav.length, total);
    assert.equal(fetched, 1, `the object is fetched once for ${parts.length} parts (fetched ${fetched} times)`);
    // The parts make the recording: the caller (left) says 440 Hz, the callee (right) 1000 Hz.
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    const rate = wav.readUInt32LE(24);
    const pcm = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
    assert.ok(pcm.length / 2 / rate >= 2.5, `${pcm.length / 2 / rate} s`);
    const shares = [medianToneShare(channel(pcm, 2, 0), 440, rate), medianToneShare(channel(pcm, 2, 1), 1000, rate)];
    assert.ok(shares[0]! > 0.8 && shares[1]! > 0.8, `440 Hz left, 1000 Hz right: ${shares.join(', ')}`);

    // The object replaced in the bucket (same size, other bytes): a new ETag, so fetched again and refused.
    const direct = new S3Bucket({ ...(storeConfig(s3) as unknown as RecordingStoreConfig), endpoint: s3.directEndpoint });
    const key = direct.keyOf(id, file);
    const altered = join(work, 'altered.wav');
    const bytes = Buffer.from(wav);
    bytes.fill(0x55, 44);
    writeFileSync(altered, bytes);
    await direct.put(key, altered, bytes.length, createHash('md5').update(bytes).digest(), createHash('sha256').update(bytes).digest('hex'));
    direct.close();
    const refused = await get(path, 'bytes=0-43');
    assert.equal(refused.status, 409, refused.body.toString());
    assert.match(refused.body.toString(), /altered/);
    assert.equal(fetched, 2, 'the altered object is fetched again');
    s3.observe = null;

    // A clean stop leaves no copy behind (Parley's temporary files are in this run's TMPDIR).
    assert.ok(exportCopies().length > 0, 'a copy is kept while Parley runs');
    proc.child.kill('SIGINT');
    await once(proc.child, 'exit');
    assert.deepEqual(exportCopies().filter((n) => !copiesBefore.has(n)), [], 'no copy of a bucket object is left after the stop');
  });
});
