// node --import tsx bench/two-party-cost.ts [--frames N] [--runs R]
// CPU cost of one two-party call per 20 ms frame in Parley's RoomMixer, mixed
// (forwardTwoParty: false: decode, mix-minus, limiter, encode per listener)
// vs forwarded (decode only, for the recorder and talk/DTMF detection; each
// packet goes on to the other leg with a rewritten header), for PCMU and Opus,
// with a recorder-like TickSink attached (it copies the mix and both legs every
// tick, as a recorder queues them for its writers). Both legs talk all the
// time (speech-like: two tones and noise), so forwarding never fills in
// silence. The room runs on a manual clock: each frame both legs' packets
// arrive, then the tick runs, as fast as the CPU allows; no sockets, no I/O.
// Each case runs R timed runs of N frames after a warm-up, alternating mixed
// and forwarded run by run; the headline is CPU time per call per frame
// (median of the runs), which load elsewhere on the machine does not inflate.
// Prints and writes bench/results/two-party-cost.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/schema.ts';
import type { AudioEncoder, CodecName } from '../src/mixer/codecs/audio-codec.ts';
import { CODECS } from '../src/mixer/codecs/audio-codec.ts';
import { G711Encoder } from '../src/mixer/codecs/g711-codec.ts';
import { OpusEncoder } from '../src/mixer/codecs/opus-codec.ts';
import type { MixTick, TickSink } from '../src/mixer/frames.ts';
import type { MixerParticipant } from '../src/mixer/mixer-participant.ts';
import { RoomMixer } from '../src/mixer/room-mixer.ts';
import { writeRtpHeader } from '../src/mixer/rtp.ts';
import { createLogger } from '../src/util/logger.ts';
import { opusEngineName } from '../src/mixer/codecs/opus-engine.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { frames: { type: 'string', default: '3000' }, runs: { type: 'string', default: '7' } } });
const FRAMES = Number(values.frames);
const RUNS = Number(values.runs);
const log = createLogger({ level: 'error', pretty: false });
const PT: Record<CodecName, number> = { PCMU: 0, PCMA: 8, G722: 9, opus: 111 };
type Mode = 'mixed' | 'forwarded';

/** What a recorder does per tick before its writers run: keeps a copy of the mix and of every leg. */
class CopyingSink implements TickSink {
  /** As a media thread's RingSink: what it keeps it copies during writeTick. */
  readonly copiesFrames = true;
  private readonly ring: Int16Array[] = [];
  private next = 0;
  constructor(readonly sampleRate: number) {}
  writeTick(tick: MixTick): void {
    this.keep(tick.mix);
    for (const f of tick.legs.values()) if (f) this.keep(f);
  }
  private keep(f: Int16Array): void {
    if (this.ring.length < 64) this.ring.push(new Int16Array(f.length));
    const slot = this.ring[this.next++ % this.ring.length];
    if (slot.length === f.length) slot.set(f);
  }
}

/** 50 distinct speech-like frames of one phone, encoded: two tones and a little noise, so no path can shortcut on zeros. */
function talk(codec: CodecName, hz: number, seed: number): Buffer[] {
  const enc: AudioEncoder = codec === 'opus' ? new OpusEncoder(48000) : new G711Encoder('ulaw');
  const n = enc.rate / 50;
  const out: Buffer[] = [];
  const payload = new Uint8Array(1500);
  for (let f = 0; f < 50; f++) {
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const t = (f * n + i) / enc.rate;
      seed = (seed * 1103515245 + 12345) >>> 0;
      pcm[i] = Math.round(5000 * Math.sin(2 * Math.PI * hz * t) + 2000 * Math.sin(2 * Math.PI * 2.7 * hz * t) + ((seed >>> 16) % 800) - 400);
    }
    const len = enc.encode(pcm, payload);
    const packet = Buffer.alloc(12 + len);
    packet.set(payload.subarray(0, len), 12);
    out.push(packet);
  }
  enc.close();
  return out;
}

interface Leg {
  part: MixerParticipant;
  packets: Buffer[];
  ssrc: number;
}

class Call {
  readonly mixer: RoomMixer;
  readonly legs: Leg[];
  private frame = 0;
  private readonly step: number;

  constructor(
    readonly codec: CodecName,
    mode: Mode,
  ) {
    const m = defaultConfig.media.mixer;
    this.mixer = new RoomMixer({ sampleRate: m.sampleRate, autoNarrowband: m.narrowband, jitterMinMs: m.jitterMinMs, jitterMaxMs: m.jitterMaxMs, forwardTwoParty: mode === 'forwarded', manualClock: true, log });
    // At the rate the room will mix at, so the sink costs no resampling.
    this.mixer.addSink(new CopyingSink(codec === 'PCMU' ? 8000 : m.sampleRate));
    this.step = CODECS[codec].rtpClock / 50;
    // The packets go nowhere (no sockets): what is measured is the room's own work.
    const send = (): void => undefined;
    this.legs = [
      { id: 'a', hz: 440, seed: 1 },
      { id: 'b', hz: 1000, seed: 2 },
    ].map(({ id, hz, seed }, i) => ({
      part: this.mixer.createParticipant(id, { codec, audioPt: PT[codec], dtmfPt: 101, dtmfClock: 8000, sendPt: PT[codec], sendSsrc: 0x1000 + i }, send),
      packets: talk(codec, hz, seed),
      ssrc: 0x2000 + i,
    }));
  }

  /** One 20 ms frame: both legs' packets arrive (at room time), then the tick runs. */
  run(frames: number): void {
    for (let k = 0; k < frames; k++) {
      const f = this.frame++;
      for (const leg of this.legs) {
        const packet = leg.packets[f % leg.packets.length];
        writeRtpHeader(packet, PT[this.codec], false, f & 0xffff, (f * this.step) >>> 0, leg.ssrc);
        leg.part.pushRtp(packet, f * 20);
      }
      this.mixer.runTick();
    }
  }

  close(): void {
    this.mixer.close();
  }
}

function stats(runs: number[]): { min: number; median: number } {
  const s = [...runs].sort((a, b) => a - b);
  return { min: Math.round(s[0]), median: Math.round(s[s.length >> 1]) };
}

interface CaseResult {
  /** CPU time of this process per two-party call per 20 ms frame (both legs: two packets in, two out, one tick). */
  cpuNsPerCallFrame: { min: number; median: number };
  /** Per run: frames encoded for the two listeners, packets forwarded. */
  encodedPerRun: number;
  forwardedPerRun: number;
  mode: string;
}

function measure(codec: CodecName): Record<Mode, CaseResult> {
  const modes: Mode[] = ['mixed', 'forwarded'];
  const calls = modes.map((m) => new Call(codec, m));
  for (const c of calls) c.run(500);
  const cpu: number[][] = modes.map(() => []);
  const counters = calls.map(() => ({ encoded: 0, forwarded: 0 }));
  for (let r = 0; r < RUNS; r++) {
    calls.forEach((c, i) => {
      const enc0 = c.legs.reduce((s, l) => s + l.part.encoded, 0);
      const fwd0 = c.mixer.stats.forwarded;
      const c0 = process.cpuUsage();
      c.run(FRAMES);
      const used = process.cpuUsage(c0);
      cpu[i].push(((used.user + used.system) * 1000) / FRAMES);
      counters[i] = { encoded: c.legs.reduce((s, l) => s + l.part.encoded, 0) - enc0, forwarded: c.mixer.stats.forwarded - fwd0 };
    });
  }
  const out = {} as Record<Mode, CaseResult>;
  modes.forEach((m, i) => {
    out[m] = { cpuNsPerCallFrame: stats(cpu[i]), encodedPerRun: counters[i].encoded, forwardedPerRun: counters[i].forwarded, mode: calls[i].mixer.stats.mode };
    calls[i].close();
  });
  return out;
}

function main(): void {
  const results: Partial<Record<CodecName, Record<Mode, CaseResult> & { forwardedShareOfMixed: number }>> = {};
  for (const codec of ['PCMU', 'opus'] as const) {
    const r = measure(codec);
    results[codec] = { ...r, forwardedShareOfMixed: Math.round((1000 * r.forwarded.cpuNsPerCallFrame.median) / r.mixed.cpuNsPerCallFrame.median) / 1000 };
    for (const m of ['mixed', 'forwarded'] as const) {
      const c = r[m];
      console.log(`${codec.padEnd(5)} ${m.padEnd(9)} CPU ${(c.cpuNsPerCallFrame.median / 1000).toFixed(1).padStart(6)} µs per call per frame (min ${(c.cpuNsPerCallFrame.min / 1000).toFixed(1)}); per run: ${c.encodedPerRun} frames encoded, ${c.forwardedPerRun} packets forwarded`);
    }
    console.log(`${codec.padEnd(5)} forwarded costs ${(100 * results[codec].forwardedShareOfMixed).toFixed(0)} % of mixed`);
  }
  const m = defaultConfig.media.mixer;
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    opus: opusEngineName(),
    cores: availableParallelism(),
    loadAverage1m: loadavg()[0],
    framesPerRun: FRAMES,
    runs: RUNS,
    room: { sampleRate: m.sampleRate, narrowband: m.narrowband, jitterMinMs: m.jitterMinMs, note: 'PCMU rooms mix at 8 kHz (narrowband), Opus rooms at the sampleRate; a recorder-like TickSink copies the mix and both legs every tick' },
    results,
  };
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'two-party-cost.json'), JSON.stringify(result, null, 2) + '\n');
}

main();
