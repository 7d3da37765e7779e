// Shared pieces of the end-to-end tests: SIPp peers with Node RTP peers on the
// ports their SDP advertises, and waiting for Parley to finish a call.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import type { CallSessionEvents } from '../../src/call/call-session.ts';
import { readWavFile, type WavData } from '../helpers/audio-analysis.ts';
import { dialWithBaresip, type BaresipRun } from '../helpers/baresip.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { startSipp, type SippRun } from '../helpers/sipp.ts';
import type { TlsParley } from '../helpers/tls-parley.ts';
import { waitFor } from '../helpers/wait.ts';

export const SCENARIOS = resolve('test/e2e/scenarios');

export interface Peer {
  rtp: RtpPeer;
  port: number;
  done: Promise<SippRun>;
  /** Every message SIPp sent and received so far (its -trace_msg log, written as it goes). */
  messages(): string;
  kill(): void;
}

/**
 * A SIPp callee (UAS) running `scenario`, answering with SDP on a Node RTP peer sending `toneHz`.
 * `timeoutS`: SIPp gives up on the scenario after this long (a test whose call lasts longer on a busy machine raises it).
 */
export async function startCallee(scenario: string, toneHz: number | null, extra: string[] = [], port?: number, timeoutS = 30): Promise<Peer> {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start(toneHz === null ? { kind: 'silence' } : { kind: 'tone', freq: toneHz, amplitude: 8000 });
  const s = await startSipp({
    scenario: `${SCENARIOS}/${scenario}`,
    transport: 'udp',
    calls: 1,
    timeoutS,
    port,
    extra: ['-key', 'rtpport', String(rtp.port), '-trace_msg', ...extra],
  });
  return { rtp, port: s.port, done: s.done, messages: s.messages, kill: s.kill };
}

/** A SIPp caller (UAC) running `scenario` against Parley, to `toUri`, with a Node RTP peer. */
export async function startCaller(
  parley: RunningParley,
  scenario: string,
  toUri: string,
  opts: { toneHz?: number | null; pauseMs?: number; fromUser?: string; digit?: string; extra?: string[]; timeoutS?: number } = {},
): Promise<Peer> {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start(opts.toneHz == null ? { kind: 'silence' } : { kind: 'tone', freq: opts.toneHz, amplitude: 8000 });
  const s = await startSipp({
    scenario: `${SCENARIOS}/${scenario}`,
    transport: 'udp',
    remote: `127.0.0.1:${parley.sipPort}`,
    calls: 1,
    timeoutS: opts.timeoutS ?? 30,
    extra: [
      '-key', 'to_uri', toUri,
      '-key', 'rtpport', String(rtp.port),
      '-key', 'from_user', opts.fromUser ?? 'alice',
      '-key', 'digit', opts.digit ?? '1',
      '-d', String(opts.pauseMs ?? 1000),
      '-trace_msg',
      ...(opts.extra ?? []),
    ],
  });
  return { rtp, port: s.port, done: s.done, messages: s.messages, kill: s.kill };
}

/** Resolves with the next call Parley finishes (its flow outcome). */
export function nextCallEnd(parley: RunningParley, timeoutMs = 30_000): Promise<{ active: ActiveCall; outcome: CallSessionEvents['done'][0] }> {
  const calls = parley.app.calls!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no call ended in time')), timeoutMs);
    calls.once('callend', (active, outcome) => {
      clearTimeout(timer);
      resolve({ active, outcome });
    });
  });
}

/**
 * Resolves when the call with SIP Call-ID `callId` ends (its flow outcome), whatever other calls
 * end meanwhile: what a test running calls side by side waits for (nextCallEnd takes any call's end).
 */
export function callEnd(parley: RunningParley, callId: string, timeoutMs = 30_000): Promise<{ active: ActiveCall; outcome: CallSessionEvents['done'][0] }> {
  const calls = parley.app.calls!;
  return new Promise((resolve, reject) => {
    const onEnd = (active: ActiveCall, outcome: CallSessionEvents['done'][0]): void => {
      if (active.call.callId !== callId) return;
      clearTimeout(timer);
      calls.off('callend', onEnd);
      resolve({ active, outcome });
    };
    const timer = setTimeout(() => {
      calls.off('callend', onEnd);
      reject(new Error(`call ${callId} did not end in time`));
    }, timeoutMs);
    calls.on('callend', onEnd);
  });
}

/** Fails with SIPp's own words when it did not finish its scenario. */
export function sippOk(run: SippRun, who: string): void {
  if (run.code !== 0) {
    throw new Error(`${who} SIPp exited ${run.code}: ${run.errors || run.stdout.slice(-1500)}\n--- messages ---\n${run.messages.slice(-3000)}`);
  }
}

/** Resolves with the first message the SIPp peer `way` that matches `re`, while its scenario runs (polls its live -trace_msg log). */
export function sippTraced(peer: Pick<Peer, 'messages'>, way: 'received' | 'sent', re: RegExp, timeoutMs = 15_000): Promise<string> {
  return waitFor(`SIPp ${way} ${re}`, () => peer.messages().split(/-{10,}/).find((m) => m.includes(`message ${way}`) && re.test(m)), timeoutMs);
}

/** The SIP messages SIPp received, split. */
export function received(run: SippRun): string[] {
  return run.messages.split(/-{10,}/).filter((m) => /message received/.test(m));
}

/** Both parties' runs got a BYE whose Reason header matches `reason` (RFC 3326). */
export function assertByeReason(runs: readonly (readonly [who: string, run: SippRun])[], reason: RegExp): void {
  for (const [who, run] of runs) {
    const bye = received(run).find((m) => /^BYE /m.test(m)) ?? '';
    assert.match(bye, reason, `the ${who}'s BYE says why`);
  }
}

/** Routing that sends every audio INVITE to the flow `app` (rule "gateway"), and that flow's steps (one YAML mapping each). */
export function gatewayYaml(app: string, steps: readonly string[]): string {
  return `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: ${app} }]
flows:
  ${app}:
${steps.map((step) => `    - ${step}\n`).join('')}`;
}

/** Every INVITE to flow `app`: answered, recorded (the mix alone), `silenceMs` of silence, hung up. */
export function recordAllYaml(app: string, silenceMs: number): string {
  return `
routing:
  rules:
    - name: all
      match: { method: INVITE }
      actions: [{ app: ${app} }]
flows:
  ${app}:
    - answer
    - record: { action: start, stereo: false, stems: false }
    - play: { tone: "silence:${silenceMs}" }
    - hangup
`;
}

/**
 * baresip dials Parley over TLS (`sip:parley@…;transport=tls`, the PKI's client certificate) sending
 * `toneHz`; the call must end 'completed' within `endMs`. `during` runs before baresip is stopped.
 * Returns baresip's SIP trace and the mix of the call's recording once it is finalized.
 */
export async function baresipRecordedCall(
  t: TlsParley,
  opts: { toneHz: number; quitAfterS: number; endMs: number; ptime?: number; mediaenc?: string },
  during?: (phone: BaresipRun) => Promise<void>,
): Promise<{ trace: string; mix: WavData }> {
  const ended = nextCallEnd(t.parley, opts.endMs);
  const phone = await dialWithBaresip({
    uri: `sip:parley@127.0.0.1:${t.tlsPort};transport=tls`,
    caFile: t.pki.caFile,
    certPem: Buffer.concat([t.pki.client.cert, t.pki.client.key]),
    toneHz: opts.toneHz,
    quitAfterS: opts.quitAfterS,
    ptime: opts.ptime,
    mediaenc: opts.mediaenc,
  });
  try {
    const { outcome } = await ended;
    assert.equal(outcome.reason, 'completed', phone.output().slice(-2000));
    await during?.(phone);
  } finally {
    await phone.stop();
  }
  const dir = t.parley.recordingDir;
  const meta = await waitFor('a finalized recording', () => {
    const m = readSidecars(dir)[0];
    return m && (m.state === 'finalized' || m.mix?.sha256) ? m : undefined;
  }, 10_000);
  return { trace: phone.output(), mix: readWavFile(join(dir, meta.mix.file)) };
}
