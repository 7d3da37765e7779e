// `npm run bench:siprec`: Parley as a SIPREC recording server under load. A Node SRC
// (this process) opens one SIP/TCP connection to Parley (its own process, log level
// warn), starts N two-stream SIPREC sessions (multipart INVITE: SDP + RFC 7865
// metadata) at BENCH_SETUP_RATE per second, streams a PCMU tone on each stream (440 Hz
// and 1 kHz) every 20 ms from one UDP socket, holds BENCH_HOLD_MS, sends BYE, and then
// reads every recording back: each stem must hold as many tone frames as packets were
// sent on its stream (lost = sent - recorded frames), the sidecar must name both
// participants. Reported per step: setup p50/p99 (INVITE → 200), the achieved setup
// rate, Parley's CPU (its process and children, /proc) during the hold, CPU per
// session-second and sessions per core, lost packets. Then the same number of sessions,
// with the same generator, recorded by rtpengine as pcap over its ng control protocol
// (bench/lib/siprec-rtpengine.ts; BENCH_RTPENGINE=0 leaves it out). Writes
// bench/results/siprec.json. Steps: BENCH_SESSIONS (default 25,50,100). Keep runs short
// on a shared machine.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RecordingMetadata } from '../src/recording/metadata.ts';
import { StreamFramer } from '../src/sip/transport/stream-framer.ts';
import { readWavFile, rms } from '../test/helpers/audio-analysis.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { anchorVersion, startRtpengine, type Rtpengine } from './lib/kamailio-rtpengine.ts';
import { addStreamLoss, type StreamLoss } from './lib/pcap-check.ts';
import { cpuBetween, percentile, treeCpu } from './lib/proc-cpu.ts';
import { RtpengineNg } from './lib/rtpengine-ng.ts';
import { rtpengineStep, startSink } from './lib/siprec-rtpengine.ts';
import { newStreamSet, streamTones, tonePayloads, type ToneStreamSet } from './lib/tone-streams.ts';

const STEPS = (process.env.BENCH_SESSIONS ?? '25,50,100').split(',').map(Number);
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 6000);
const SETUP_RATE = Number(process.env.BENCH_SETUP_RATE ?? 50);
const TONES = [440, 1000];
const WITH_RTPENGINE = process.env.BENCH_RTPENGINE !== '0';

interface Session {
  callId: string;
  inviteAt: number;
  okAt: number | null;
  /** The streams: ports from Parley's answer, what was sent. */
  set: ToneStreamSet;
  toTag: string;
  contact: string;
  byeDone: boolean;
}

function invite(s: Session, port: number, local: number, i: number): string {
  const sdp = ['v=0', 'o=SRC 1 1 IN IP4 127.0.0.1', 's=SRC', 'c=IN IP4 127.0.0.1', 't=0 0',
    ...[0, 1].flatMap((k) => [`m=audio ${20000 + k} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=label:${k + 1}`, 'a=sendonly'])].join('\r\n') + '\r\n';
  const xml = `<?xml version="1.0"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>` +
    `<group group_id="bench-g${i}"/><session session_id="bench-s${i}"><group-ref>bench-g${i}</group-ref></session>` +
    `<participant participant_id="a"><nameID aor="sip:caller${i}@bench"><name>Caller</name></nameID></participant>` +
    `<participant participant_id="b"><nameID aor="sip:agent${i}@bench"/></participant>` +
    `<stream stream_id="s1" session_id="bench-s${i}"><label>1</label></stream><stream stream_id="s2" session_id="bench-s${i}"><label>2</label></stream>` +
    `<participantstreamassoc participant_id="a"><send>s1</send></participantstreamassoc><participantstreamassoc participant_id="b"><send>s2</send></participantstreamassoc></recording>\r\n`;
  const body = ['--bb', 'Content-Type: application/sdp', '', sdp, '--bb', 'Content-Type: application/rs-metadata+xml', '', xml, '--bb--', ''].join('\r\n');
  return [`INVITE sip:srs@127.0.0.1:${port};transport=tcp SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${local};branch=z9hG4bK-i-${s.callId}`,
    `From: <sip:src@bench>;tag=src-${i}`, 'To: <sip:srs@127.0.0.1>', `Call-ID: ${s.callId}`, 'CSeq: 1 INVITE',
    `Contact: <sip:src@127.0.0.1:${local};transport=tcp>;+sip.src`, 'Require: siprec', 'Max-Forwards: 70',
    'Content-Type: multipart/mixed;boundary=bb', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

function inDialog(s: Session, method: string, cseq: number, local: number, i: number): string {
  return [`${method} ${s.contact} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${local};branch=z9hG4bK-${method}-${cseq}-${s.callId}`,
    `From: <sip:src@bench>;tag=src-${i}`, `To: <sip:srs@127.0.0.1>;tag=${s.toTag}`, `Call-ID: ${s.callId}`, `CSeq: ${cseq} ${method}`,
    'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
}

async function startParley(work: string): Promise<{ pid: number; port: number; recordings: string; stop(): Promise<void> }> {
  const port = await freePort();
  const recordings = join(work, 'recordings');
  const file = join(work, 'parley.yaml');
  writeFileSync(file, `log: { level: warn, pretty: false }
sip:
  listen: [{ transport: tcp, host: 127.0.0.1, port: ${port} }]
  control: { host: 127.0.0.1, port: 0, secret: bench }
media: { workers: 1, rtpIp: 127.0.0.1 }
prompts: { dir: ${resolve('prompts')}, cacheDir: ${join(work, 'cache')} }
recording: { dir: ${recordings} }
security: { maxCallRatePerSource: 0 }
routing:
  rules: [{ name: siprec, match: { method: INVITE, headers: { Require: { contains: siprec } } }, actions: [{ app: siprec }] }]
`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Never leave it behind, whatever happens to this process.
  process.once('exit', () => child.kill('SIGKILL'));
  let exited = false;
  child.once('exit', () => (exited = true));
  // Started once its SIP port accepts connections (it logs at warn only).
  const until = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error('Parley exited at start');
    if (Date.now() > until) throw new Error('Parley did not start');
    const up = await new Promise<boolean>((r) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    port,
    recordings,
    stop: () => new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGINT');
    }),
  };
}

async function step(n: number, parley: { pid: number; port: number; recordings: string }, payloads: Buffer[][]): Promise<Record<string, unknown>> {
  const sock = net.connect({ host: '127.0.0.1', port: parley.port });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const local = sock.localPort!;
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const sessions = new Map<string, Session>();
  const list: Session[] = [];
  const framer = new StreamFramer(1 << 20);
  const byeOk = new Set<string>();
  let failed = 0;
  sock.on('data', (chunk: Buffer) => {
    for (const f of framer.push(chunk)) {
      if (f.kind !== 'message') continue;
      const m = f.data.toString('utf8');
      const callId = /^Call-ID:\s*(.*)$/im.exec(m)?.[1]?.trim() ?? '';
      const s = sessions.get(callId);
      const status = /^SIP\/2\.0 (\d+)/.exec(m)?.[1];
      if (!s || !status) continue;
      if (/CSeq:\s*\d+ BYE/i.test(m)) {
        if (status === '200') byeOk.add(callId);
        continue;
      }
      if (status === '200' && s.okAt === null) {
        s.okAt = performance.now();
        s.toTag = /^To:.*;tag=([^;\s]+)/im.exec(m)?.[1] ?? '';
        s.contact = /^Contact:\s*<([^>]+)>/im.exec(m)?.[1] ?? '';
        s.set.ports = [...m.matchAll(/^m=audio (\d+)/gm)].map((x) => Number(x[1]));
        sock.write(inDialog(s, 'ACK', 1, local, list.indexOf(s)));
      } else if (Number(status) >= 300) failed++;
    }
  });
  // Sessions set up at SETUP_RATE per second.
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s: Session = { callId: `bench-${n}-${i}-${process.pid}@src`, inviteAt: 0, okAt: null, set: newStreamSet(2), toTag: '', contact: '', byeDone: false };
    sessions.set(s.callId, s);
    list.push(s);
    const due = t0 + (i * 1000) / SETUP_RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    s.inviteAt = performance.now();
    sock.write(invite(s, parley.port, local, i));
  }
  const until = performance.now() + 20_000;
  while (list.some((s) => s.okAt === null) && performance.now() < until && failed === 0) await new Promise((r) => setTimeout(r, 20));
  const answered = list.filter((s) => s.okAt !== null && s.set.ports.length === 2);
  const lastOk = Math.max(...answered.map((s) => s.okAt!));
  // Media: every stream one packet per 20 ms, caught up from a monotonic clock.
  const cpu0 = treeCpu(parley.pid);
  const gen = await streamTones(udp, answered.map((s) => s.set), payloads, HOLD_MS);
  const cpu1 = treeCpu(parley.pid);
  const wallMs = gen.wallMs;
  // Let the last packets land in the jitter buffers, then BYE.
  await new Promise((r) => setTimeout(r, 300));
  answered.forEach((s) => sock.write(inDialog(s, 'BYE', 2, local, list.indexOf(s))));
  const byeUntil = performance.now() + 20_000;
  while (byeOk.size < answered.length && performance.now() < byeUntil) await new Promise((r) => setTimeout(r, 50));
  sock.destroy();
  udp.close();
  // Every recording finalized, then read back.
  const metas = new Map<string, RecordingMetadata>();
  const metaUntil = Date.now() + 60_000;
  while (metas.size < answered.length && Date.now() < metaUntil) {
    for (const f of readdirSync(parley.recordings).filter((x) => x.endsWith('.json'))) {
      try {
        const m = JSON.parse(readFileSync(join(parley.recordings, f), 'utf8')) as RecordingMetadata;
        if (m.state === 'finalized' && m.siprec && sessions.has(m.siprec.callId)) metas.set(m.siprec.callId, m);
      } catch {
        // being written
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const loss: StreamLoss = { sent: 0, recorded: 0, lost: 0 };
  let badMeta = 0;
  for (const s of answered) {
    const m = metas.get(s.callId);
    if (!m) {
      loss.lost += s.set.sent[0]! + s.set.sent[1]!;
      continue;
    }
    if (m.siprec!.participants.filter((p) => p.sends.length === 1).length !== 2) badMeta++;
    for (let k = 0; k < 2; k++) {
      const leg = m.legs.find((l) => l.id === `s${k}`);
      const w = leg?.stems[0] ? readWavFile(join(parley.recordings, leg.stems[0].file)) : null;
      let withTone = 0;
      if (w) {
        const fl = w.sampleRate / 50;
        for (let i = 0; i + fl <= w.samples.length; i += fl) if (rms(w.samples, i, fl) > 0.05) withTone++;
      }
      addStreamLoss(loss, s.set.sent[k]!, withTone);
    }
  }
  const setups = answered.map((s) => s.okAt! - s.inviteAt).sort((a, b) => a - b);
  const used = cpuBetween(cpu0, cpu1);
  const cpuMs = used.mainMs + used.childrenMs;
  const cpuPerSessionSecondMs = cpuMs / answered.length / (wallMs / 1000);
  const r = {
    sessions: n,
    answered: answered.length,
    failed: failed + (n - answered.length),
    setupRateOffered: SETUP_RATE,
    setupRateAchieved: Math.round((answered.length / ((lastOk - t0) / 1000)) * 10) / 10,
    setupMsP50: Math.round(percentile(setups, 50) * 10) / 10,
    setupMsP99: Math.round(percentile(setups, 99) * 10) / 10,
    holdMs: Math.round(wallMs),
    parleyCpuPercent: Math.round((cpuMs / wallMs) * 1000) / 10,
    cpuMsPerSessionSecond: Math.round(cpuPerSessionSecondMs * 100) / 100,
    sessionsPerCore: Math.round(1000 / cpuPerSessionSecondMs),
    packetsSent: loss.sent,
    framesRecorded: loss.recorded,
    packetsLost: loss.lost,
    generatorMaxLagMs: Math.round(gen.maxLagMs),
    generatorFramesOver60msLate: gen.lateFrames,
    recordingsMissing: answered.length - metas.size,
    metadataWrong: badMeta,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(`Parley, ${n} sessions: setup p50 ${r.setupMsP50} ms p99 ${r.setupMsP99} ms at ${r.setupRateAchieved}/s; Parley ${r.parleyCpuPercent} % CPU, ${r.cpuMsPerSessionSecond} ms per session-second (${r.sessionsPerCore} sessions per core); ${r.packetsSent} packets sent, ${r.packetsLost} lost in the files (generator: max lag ${r.generatorMaxLagMs} ms, ${r.generatorFramesOver60msLate} frames > 60 ms late); load ${r.loadavg.join(' ')}`);
  return r;
}

const work = mkdtempSync(join(tmpdir(), 'siprec-bench-'));
const parley = await startParley(work);
let rtp: Rtpengine | null = null;
let ng: RtpengineNg | null = null;
let sink: { port: number; stop(): void } | null = null;
const payloads = TONES.map(tonePayloads);
const results: { parley: Record<string, unknown>; rtpengine: Record<string, unknown> | null }[] = [];
try {
  if (WITH_RTPENGINE) {
    // Its ports apart from Parley's (media.rtpPortRange 40000-49999).
    rtp = await startRtpengine(work, { min: 30000, max: 39999 });
    ng = await RtpengineNg.open(rtp.ngPort);
    sink = await startSink();
  }
  for (const n of STEPS) {
    const p = await step(n, parley, payloads);
    const r = rtp && ng && sink ? await rtpengineStep(n, { rtp, ng, sinkPort: sink.port, payloads, holdMs: HOLD_MS, setupRate: SETUP_RATE }) : null;
    results.push({ parley: p, rtpengine: r });
  }
} finally {
  ng?.close();
  sink?.stop();
  await rtp?.stop();
  await parley.stop();
  rmSync(work, { recursive: true, force: true });
}
const ratio = (a: unknown, b: unknown): number | null => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 100) / 100 : null);
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/siprec.json',
  JSON.stringify(
    {
      bench: 'bench:siprec',
      at: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      holdMs: HOLD_MS,
      other: WITH_RTPENGINE ? anchorVersion().replace(/^Kamailio \S+, /, '') : null,
      method: 'A Node SRC over one SIP/TCP connection starts two-stream SIPREC sessions (multipart SDP + RFC 7865 metadata) at setupRateOffered per second against Parley in its own process (media.workers 1, log warn), streams PCMU tones (440 Hz, 1 kHz) every 20 ms on both streams for holdMs, BYEs, then reads every finalized recording: lost = packets sent minus 20 ms frames with the tone in each stem. Then the same number of sessions against rtpengine (Debian, userspace, table = -1, recording-method = pcap), one call per session over its ng protocol (offer with two sendonly m-lines, answer from a sink that never reads with two recvonly m-lines, record call: yes; delete at the end), the same generator and packets: lost = packets sent minus the packets in the call\'s pcap addressed to each stream\'s port. rtpengine also relays both streams to the sink (it is a relay; Parley only receives). CPU: utime+stime of the server\'s process (Parley: and its children; rtpengine: all its threads) over the hold, from /proc. sessionsPerCore = 1000 / (CPU ms per session-second).',
      steps: results.map((r) => ({ sessions: r.parley.sessions, parley: r.parley, rtpengine: r.rtpengine, cpuRatioParleyToRtpengine: ratio(r.parley.cpuMsPerSessionSecond, r.rtpengine?.cpuMsPerSessionSecond) })),
    },
    null,
    2,
  ) + '\n',
);
