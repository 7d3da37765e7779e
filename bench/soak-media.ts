// A media soak (issue 11): two-party calls through Parley's own RTP endpoints,
// half of them SDES-SRTP, back to back for SOAK_MINUTES (30 by default), with
// SOAK_CONCURRENT calls up at once. Each call carries a tone each way for
// SOAK_CALL_S seconds. In its last two seconds, the other side's tone must
// hold at each end: a call where it is absent at either end (median share of
// 100 ms windows under 0.05) is silent; one where it is weak (under 0.5: frames
// lost or late) is degraded. Heap (after GC) and RSS are
// sampled every minute. Prints a summary and writes bench/results/soak-media.json.
//   node --expose-gc --import tsx bench/soak-media.ts
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/schema.ts';
import { MediaEngine } from '../src/media-plane/media-engine.ts';
import type { MediaRoom } from '../src/media-plane/media-room.ts';
import { createLogger } from '../src/util/logger.ts';
import { medianToneShare } from '../test/helpers/audio-analysis.ts';
import { RtpPeer } from '../test/helpers/rtp-peer.ts';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const CONCURRENT = Number(process.env.SOAK_CONCURRENT ?? 20);
const CALL_S = Number(process.env.SOAK_CALL_S ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

interface Sample {
  minute: number;
  calls: number;
  heapMb: number;
  rssMb: number;
}

async function oneCall(engine: MediaEngine, n: number): Promise<{ srtp: boolean; shares: [number, number] }> {
  const srtp = n % 2 === 0;
  const room: MediaRoom = await engine.createRoom(`soak-${n}`);
  const a = await new RtpPeer({ codec: 'PCMU', srtp: srtp ? 'AES_CM_128_HMAC_SHA1_80' : undefined }).bind();
  const b = await new RtpPeer({ codec: srtp ? 'PCMU' : 'G722', srtp: srtp ? 'AEAD_AES_128_GCM' : undefined }).bind();
  try {
    const la = await room.createLeg(a.sdp(), { id: 'a' });
    const lb = await room.createLeg(b.sdp(), { id: 'b' });
    a.useRemoteSdp(la.answer);
    b.useRemoteSdp(lb.answer);
    a.start({ kind: 'tone', freq: 440, amplitude: 8000 });
    b.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
    await new Promise((r) => setTimeout(r, CALL_S * 1000));
    const tail = (p: RtpPeer): Int16Array => p.decoded(Math.max(0, p.received.length - 100));
    const shares: [number, number] = [medianToneShare(tail(a), 1000, a.rate), medianToneShare(tail(b), 440, b.rate)];
    return { srtp, shares };
  } finally {
    room.close();
    await a.close();
    await b.close();
  }
}

async function main(): Promise<void> {
  const log = createLogger({ level: 'warn', pretty: false });
  const engine = await MediaEngine.create({ ...defaultConfig.media, workers: 1, rtpPortRange: { min: 30000, max: 39999 } }, log);
  const started = Date.now();
  const until = started + MINUTES * 60_000;
  const samples: Sample[] = [];
  const silent: { n: number; srtp: boolean; shares: [number, number] }[] = [];
  const degraded: { n: number; srtp: boolean; shares: [number, number]; minute: number }[] = [];
  let calls = 0;
  let srtpCalls = 0;
  let n = 0;
  const sample = (): void => {
    gc!();
    gc!();
    const m = process.memoryUsage();
    const s = { minute: Math.round((Date.now() - started) / 60_000), calls, heapMb: +(m.heapUsed / 1048576).toFixed(1), rssMb: +(m.rss / 1048576).toFixed(1) };
    samples.push(s);
    process.stdout.write(`minute ${s.minute}: ${s.calls} calls, heap ${s.heapMb} MB, rss ${s.rssMb} MB, silent ${silent.length}, degraded ${degraded.length}\n`);
  };
  const sampler = setInterval(sample, 60_000);
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const r = await oneCall(engine, n++);
      calls++;
      if (r.srtp) srtpCalls++;
      const worst = Math.min(...r.shares);
      if (worst < 0.05) silent.push({ n: calls, srtp: r.srtp, shares: r.shares });
      else if (worst < 0.5) degraded.push({ n: calls, srtp: r.srtp, shares: r.shares, minute: Math.floor((Date.now() - started) / 60_000) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, worker));
  clearInterval(sampler);
  sample();
  engine.close();
  const warm = samples.find((s) => s.minute >= 1) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const result = {
    when: new Date().toISOString(),
    minutes: MINUTES,
    concurrent: CONCURRENT,
    callSeconds: CALL_S,
    // The rooms run in media threads (media.threads 'auto': one per core), as in production.
    mediaThreads: engine.threadCount,
    calls,
    srtpCalls,
    plainCalls: calls - srtpCalls,
    silentCalls: silent.length,
    silent,
    degradedCalls: degraded.length,
    degraded,
    loadavg: loadavg(),
    heapGrowthMbAfterWarmup: +(last.heapMb - warm.heapMb).toFixed(1),
    rssGrowthMbAfterWarmup: +(last.rssMb - warm.rssMb).toFixed(1),
    samples,
  };
  await writeFile(join(import.meta.dirname, 'results', 'soak-media.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `soak: ${calls} calls (${srtpCalls} SRTP) in ${MINUTES} min, ${silent.length} silent, ${degraded.length} degraded; heap ${warm.heapMb} → ${last.heapMb} MB, rss ${warm.rssMb} → ${last.rssMb} MB after the first minute\n`,
  );
  if (silent.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
