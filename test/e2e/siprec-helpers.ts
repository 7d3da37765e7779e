// SIPREC end-to-end pieces: a SIPp recording client (SRC) running one of the
// siprec-*.xml scenarios, with a Node RTP peer per stream sending its own tone to
// the port Parley answered for that stream, and the recording's files read back.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import type { SrtpSuite } from '../../src/media-plane/sdp-types.ts';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { medianToneShare, readWavFile, rms, type WavData } from '../helpers/audio-analysis.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp, type SippRun } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS, sippOk } from './helpers.ts';

/** The routing rule that sends an INVITE with `Require: siprec` to the siprec flow (a `routing:` block; more rules may follow it). */
export const SIPREC_ROUTING = `
routing:
  rules:
    - name: siprec
      match: { method: INVITE, headers: { Require: { regex: "(^|[ ,])siprec($|[ ,;])" } } }
      actions: [{ app: siprec }]
`;

/** The tones the SIPREC tests' streams send (Hz), far enough apart to tell in a stem. */
export const TONES = { A: 440, B: 1000, C: 1700 } as const;

export interface SrcRun {
  sipp: SippRun;
  peers: RtpPeer[];
  call: ActiveCall;
  meta: RecordingMetadata;
}

export interface SrcOptions {
  /** One tone per stream (Hz). */
  tones: number[];
  transport?: 'udp' | 'tcp';
  /** -d: how long the plain scenarios record (ms). */
  holdMs?: number;
  group?: string;
  session?: string;
  aors?: string[];
  /** SDES-SRTP per stream (keys suiteN and keyN for the scenario). */
  srtp?: SrtpSuite[];
  /** Streams Parley gives a leg (default: one per tone); the peers of the others send nothing. */
  recorded?: number;
  /** More `-key name value` pairs for the scenario. */
  extraKeys?: string[];
}

/** Runs a SIPREC client scenario against Parley and returns the finished recording's sidecar. */
export async function runSrc(parley: RunningParley, scenario: string, o: SrcOptions): Promise<SrcRun> {
  const peers = await Promise.all(o.tones.map((_, i) => new RtpPeer({ codec: 'PCMU', latch: false, srtp: o.srtp?.[i] }).bind()));
  const calls = parley.app.calls!;
  const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
  const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
  const aors = o.aors ?? ['sip:alice@example.com', 'sip:bob@example.com', 'sip:carol@example.com'];
  const keys = ['-key', 'group', o.group ?? `g-${Math.random().toString(36).slice(2)}`, '-key', 'session', o.session ?? `s-${Math.random().toString(36).slice(2)}`];
  aors.forEach((a, i) => keys.push('-key', `aor${i + 1}`, a));
  peers.forEach((p, i) => keys.push('-key', `rtp${i + 1}`, String(p.port)));
  o.srtp?.forEach((suite, i) => keys.push('-key', `suite${i + 1}`, suite, '-key', `key${i + 1}`, peers[i]!.srtpKey!));
  keys.push(...(o.extraKeys ?? []));
  const sipp = await startSipp({
    scenario: join(SCENARIOS, scenario),
    transport: o.transport ?? 'udp',
    remote: `127.0.0.1:${parley.sipPort}`,
    calls: 1,
    timeoutS: 40,
    extra: [...keys, '-d', String(o.holdMs ?? 3000), '-trace_msg'],
  });
  const call = await Promise.race([started, sipp.done.then((r) => Promise.reject(new Error(`SIPp ended before the session started: ${r.errors || r.stdout.slice(-800)}`)))]);
  await waitFor('the SIPREC session answered', () => call.call.answered, 10_000);
  peers.slice(0, o.recorded ?? peers.length).forEach((p, i) => {
    const leg = call.call.room.leg(`s${i}`);
    if (!leg) throw new Error(`no leg s${i}`);
    p.useRemoteSdp(leg.localSdp);
    p.start({ kind: 'tone', freq: o.tones[i]!, amplitude: 8000 });
  });
  const run = await sipp.done;
  sippOk(run, 'SRC');
  await ended;
  for (const p of peers) await p.close();
  const meta = sidecarOf(parley, call.call.callId);
  return { sipp: run, peers, call, meta };
}

/** The finalized sidecar of the SIPREC session with this Call-ID. */
export function sidecarOf(parley: RunningParley, callId: string): RecordingMetadata {
  const dir = parley.recordingDir;
  for (const f of readdirSync(dir).filter((x: string) => x.endsWith('.json'))) {
    const m = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordingMetadata;
    if (m.siprec?.callId === callId) return m;
  }
  throw new Error(`no sidecar for ${callId}`);
}

export function wav(parley: RunningParley, file: string): WavData {
  return readWavFile(join(parley.recordingDir, file));
}

/** The stem of a leg (its only stem). */
export function stemOf(parley: RunningParley, meta: RecordingMetadata, legId: string): WavData {
  const leg = meta.legs.find((l) => l.id === legId);
  if (!leg || leg.stems.length !== 1) throw new Error(`leg ${legId}: ${leg ? leg.stems.length : 'no'} stems`);
  return wav(parley, leg.stems[0]!.file);
}

/** Median share of `hz` in the middle of a track (the first and last 300 ms left out: set-up and tear-down). */
export function share(pcm: Int16Array, rate: number, hz: number): number {
  const edge = Math.round(rate * 0.3);
  return medianToneShare(pcm.subarray(edge, pcm.length - edge), hz, rate);
}

/** Runs of 20 ms frames quieter than `threshold`, as [startMs, lengthMs], the leading and trailing ones left out. */
export function silentRuns(pcm: Int16Array, rate: number, threshold = 0.005): [number, number][] {
  const n = rate / 50;
  const quiet: boolean[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) quiet.push(rms(pcm, i, n) < threshold);
  const runs: [number, number][] = [];
  let start = -1;
  quiet.forEach((q, i) => {
    if (q && start < 0) start = i;
    if (!q && start >= 0) {
      if (start > 0) runs.push([start * 20, (i - start) * 20]);
      start = -1;
    }
  });
  return runs;
}
