// bench:recording, issue 17 part: what encryption at rest costs per recorded
// minute, and how many finalized recordings per second reach a local S3 server.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RecordingStoreConfig } from '../../src/config/recording-store-schema.ts';
import { newFileHeader, sealChunk } from '../../src/recording/encryption/chunk-format.ts';
import { parseMasterKey } from '../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../src/recording/encryption/recording-encryption.ts';
import { RecordingService } from '../../src/recording/recording-service.ts';
import { RecordingUploader } from '../../src/recording/store/recording-uploader.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { ToneRoom } from '../../test/helpers/mix-ticks.ts';
import { startS3, storeConfig } from '../../test/helpers/s3-server.ts';

const log = silentLogger();
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

/**
 * CPU per recorded minute of a 3-leg room at 16 kHz (mix, stereo, 3 stems):
 * the sealing alone (AES-256-GCM in 250 ms chunks, as the flush timer writes
 * them), and a whole recorder life (write, close, hash) plain vs encrypted.
 */
export async function encryptionCost(root: string, minutes = Number(process.env.BENCH_ENC_MINUTES ?? 3)): Promise<Record<string, number>> {
  const key = randomBytes(32);
  // Bytes per 250 ms of each file: mono 8000, stereo 16000.
  const perFlush = [8000, 16000, 8000, 8000, 8000];
  const headers = perFlush.map((_, i) => newFileHeader(i === 1 ? 2 : 1, 16000));
  const plain = perFlush.map((n) => randomBytes(n));
  const flushes = minutes * 60 * 4;
  const c0 = process.cpuUsage();
  for (let f = 0; f < flushes; f++) for (let i = 0; i < perFlush.length; i++) sealChunk(key, headers[i], f, plain[i]);
  const sealMs = cpuMs(process.cpuUsage(c0));

  const whole = async (encrypted: boolean): Promise<number> => {
    const encryption = encrypted ? new RecordingEncryption(parseMasterKey(randomBytes(32), 'bench')) : null;
    const svc = new RecordingService({ dir: join(root, encrypted ? 'enc' : 'plain'), postProcess: 'none', flushIntervalMs: 250, encryption, log });
    const c = process.cpuUsage();
    const rec = svc.createRecorder({ roomId: 'enc', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440).set('b', 1000).set('c', 700);
    // Fed in 250 ms slices, each followed by a pause long enough for the flush timer.
    for (let s = 0; s < minutes * 240; s++) {
      room.feed(rec, 250);
      if (s % 8 === 7) await new Promise((r) => setTimeout(r, 260));
    }
    rec.close();
    await rec.finalized;
    svc.close();
    return cpuMs(process.cpuUsage(c)) / minutes;
  };
  const plainMs = await whole(false);
  const encMs = await whole(true);
  return {
    minutes,
    bytesPerRecordedMinute: perFlush.reduce((a, b) => a + b, 0) * 240,
    sealCpuMsPerRecordedMinute: +(sealMs / minutes).toFixed(2),
    recorderCpuMsPerMinutePlain: +plainMs.toFixed(1),
    recorderCpuMsPerMinuteEncrypted: +encMs.toFixed(1),
    encryptionOverheadCpuMsPerMinute: +(encMs - plainMs).toFixed(1),
  };
}

/** Recordings (10 s, 3 legs: 6 files with the sidecar) uploaded and verified per second to s3rver on loopback. */
export async function uploadRate(root: string, count = Number(process.env.BENCH_UPLOADS ?? 30)): Promise<Record<string, number>> {
  const s3 = await startS3();
  const dir = join(root, 'upload');
  try {
    const svc = new RecordingService({ dir, postProcess: 'none', log });
    const recs = Array.from({ length: count }, (_, i) => {
      const rec = svc.createRecorder({ roomId: `up-${i}`, sampleRate: 16000 });
      const room = new ToneRoom(16000);
      room.legs.set('a', 440).set('b', 1000).set('c', 700);
      room.feed(rec, 10_000);
      rec.close();
      return rec;
    });
    const metas = await Promise.all(recs.map((r) => r.finalized));
    svc.close();
    const config = { ...storeConfig(s3), journalFile: join(root, 'uploads.json') } as unknown as RecordingStoreConfig;
    const up = new RecordingUploader({ dir, config, log });
    await up.start();
    let stored = 0;
    let bytes = 0;
    const all = new Promise<void>((done) =>
      up.on('stored', (s) => {
        bytes += s.objects.reduce((n, o) => n + o.size, 0);
        if (++stored === count) done();
      }),
    );
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await up.enqueue(recs[i].id, metas[i]);
    await all;
    const s = (performance.now() - t0) / 1000;
    up.close();
    return {
      recordings: count,
      filesEach: 6,
      megabytes: +(bytes / 1e6).toFixed(1),
      seconds: +s.toFixed(2),
      recordingsStoredPerSecond: +(count / s).toFixed(1),
      megabytesPerSecond: +(bytes / 1e6 / s).toFixed(1),
    };
  } finally {
    await s3.stop();
  }
}
