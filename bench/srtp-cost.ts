// node --expose-gc --max-semi-space-size=64 --import tsx bench/srtp-cost.ts [--packets N]
// CPU cost of SDES-SRTP per packet: SrtpSession.protectRtp/unprotectRtp for
// 160-byte payloads (20 ms of G.711) per supported suite, with werift-rtp's own
// SrtpSession beside it (the same ciphers without our index keeping) to show what
// the wrapper adds, and the bytes allocated per packet. Prints and writes
// bench/results/srtp-cost.json. Single-threaded, a few seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpHeader, SrtpSession as WeriftSrtpSession } from 'werift-rtp';
import { generateSrtpKeyBase64, SrtpSession, SUPPORTED_SRTP_SUITES } from '../src/media-plane/srtp/index.ts';
import type { SrtpSuite } from '../src/media-plane/sdp-types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { packets: { type: 'string', default: '20000' } } });
const N = Number(values.packets);

function packets(count: number, firstSeq: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(12 + 160, i & 0xff);
    b[0] = 0x80;
    b[1] = 0;
    b.writeUInt16BE((firstSeq + i) & 0xffff, 2);
    b.writeUInt32BE((i * 160) >>> 0, 4);
    b.writeUInt32BE(0x12345678, 8);
    out.push(b);
  }
  return out;
}

const ALLOC_SAMPLE = 300;

/**
 * µs per call of fn over items; then bytes allocated per call (JS heap plus
 * ArrayBuffers) over the first ALLOC_SAMPLE items of a second pass, after a GC and
 * small enough that no scavenge runs in between (run with --expose-gc
 * --max-semi-space-size=64; without --expose-gc the figure is null).
 */
function measure<T>(items: T[], fn: (x: T) => unknown, again: T[] = items): { us: number; bytes: number | null } {
  const t0 = process.hrtime.bigint();
  for (const x of items) fn(x);
  const ns = Number(process.hrtime.bigint() - t0);
  let bytes: number | null = null;
  if (global.gc) {
    const sample = again.slice(0, ALLOC_SAMPLE);
    // Twice: the first one's concurrent sweeping would otherwise shrink heapUsed during the sample.
    global.gc();
    global.gc();
    const m0 = process.memoryUsage();
    for (const x of sample) fn(x);
    const m1 = process.memoryUsage();
    bytes = (m1.heapUsed - m0.heapUsed + m1.arrayBuffers - m0.arrayBuffers) / sample.length;
  }
  return { us: ns / 1000 / items.length, bytes };
}

function weriftSession(suite: SrtpSuite, send: string, recv: string): WeriftSrtpSession {
  const s = Buffer.from(send, 'base64');
  const r = Buffer.from(recv, 'base64');
  return new WeriftSrtpSession({
    profile: suite === 'AEAD_AES_128_GCM' ? ProtectionProfileAeadAes128Gcm : ProtectionProfileAes128CmHmacSha1_80,
    keys: { localMasterKey: s.subarray(0, 16), localMasterSalt: s.subarray(16), remoteMasterKey: r.subarray(0, 16), remoteMasterSalt: r.subarray(16) },
  });
}

const results: Record<string, unknown> = {};
for (const suite of SUPPORTED_SRTP_SUITES) {
  const a = generateSrtpKeyBase64(suite);
  const b = generateSrtpKeyBase64(suite);
  const row: Record<string, ReturnType<typeof measure>> = {};
  // Warm-up (JIT, OpenSSL contexts), then the measured run; seqs cross a wrap.
  for (const [label, seq] of [['warmup', 1000], ['run', 65_000]] as const) {
    const count = label === 'warmup' ? Math.min(2000, N) : N;
    const alice = new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b });
    const bob = new SrtpSession({ suite, sendKeyBase64: b, recvKeyBase64: a });
    const plain = packets(count, seq);
    // The allocation pass needs fresh sequence numbers (the sender refuses to reuse an index).
    const more = packets(ALLOC_SAMPLE, seq + count);
    const wire: Buffer[] = [];
    const protect = measure(plain, (p) => wire.push(alice.protectRtp(p)), more);
    const unprotect = measure(wire.slice(0, count), (w) => {
      if (!bob.unprotectRtp(w)) throw new Error('bench: unprotect failed');
    }, wire.slice(count));
    const wa = weriftSession(suite, a, b);
    const wb = weriftSession(suite, b, a);
    const wwire: Buffer[] = [];
    const weriftProtect = measure(plain, (p) => {
      const h = RtpHeader.deSerialize(p);
      wwire.push(wa.encrypt(p.subarray(h.payloadOffset), h));
    }, more);
    const weriftUnprotect = measure(wwire.slice(0, count), (w) => wb.decrypt(w), wwire.slice(count));
    if (label === 'run') Object.assign(row, { protect, unprotect, weriftProtect, weriftUnprotect });
  }
  results[suite] = row;
  const f = (x: ReturnType<typeof measure>): string => `${x.us.toFixed(2)} µs, ${x.bytes === null ? '?' : Math.round(x.bytes)} B`;
  console.log(
    `${suite.padEnd(24)} protect ${f(row.protect)}  unprotect ${f(row.unprotect)}  | werift alone: encrypt ${f(row.weriftProtect)}  decrypt ${f(row.weriftUnprotect)}`,
  );
}

const out = {
  date: new Date().toISOString(),
  node: process.version,
  payloadBytes: 160,
  packets: N,
  note: 'us: µs of one thread per packet; bytes: JS heap + ArrayBuffer bytes allocated per packet (includes the output packet)',
  suites: results,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'srtp-cost.json'), JSON.stringify(out, null, 2) + '\n');
console.log('wrote bench/results/srtp-cost.json');
