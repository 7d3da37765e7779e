// Many recorded calls at once against a Parley process, for the tests of its
// edges (a stop, a kill): one SIPp caller placing `n` calls that wait for
// Parley's BYE, each with its own RTP peer sending its own tone (so each
// recording can be told by its audio), a webhook receiver that keeps every
// delivery, and ffmpeg to decode what was recorded.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TOKEN } from './api-client.ts';
import { medianToneShare } from './audio-analysis.ts';
import { RtpPeer } from './rtp-peer.ts';
import { startSipp, type SippRun } from './sipp.ts';

export const SCENARIOS = new URL('../e2e/scenarios/', import.meta.url).pathname;

export interface ToneCalls {
  peers: RtpPeer[];
  /** The tone each call's caller sends (Hz), by index. */
  freqs: number[];
  done: Promise<SippRun>;
  kill(): void;
  close(): Promise<void>;
}

/** `n` calls from one SIPp (caller-wait-bye-inf.xml), call i sending 400 + 50·i Hz. */
export async function startToneCalls(sipPort: number, n: number, timeoutS = 90): Promise<ToneCalls> {
  const peers: RtpPeer[] = [];
  const freqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    freqs.push(400 + 50 * i);
    p.start({ kind: 'tone', freq: freqs[i]!, amplitude: 8000 });
    peers.push(p);
  }
  const inf = join(mkdtempSync(join(tmpdir(), 'tone-calls-')), 'ports.csv');
  writeFileSync(inf, `SEQUENTIAL\n${peers.map((p) => `${p.port};`).join('\n')}\n`);
  const s = await startSipp({
    scenario: `${SCENARIOS}caller-wait-bye-inf.xml`,
    transport: 'udp',
    remote: `127.0.0.1:${sipPort}`,
    calls: n,
    rate: 10,
    timeoutS,
    extra: ['-inf', inf, '-key', 'to_uri', 'sip:bob@127.0.0.1:9', '-key', 'from_user', 'alice', '-l', String(n), '-trace_msg'],
  });
  return {
    peers,
    freqs,
    done: s.done,
    kill: s.kill,
    close: async () => {
      for (const p of peers) await p.close();
    },
  };
}

export interface Hit {
  delivery: string;
  type: string;
  data: Record<string, unknown>;
}

export interface HookReceiver {
  url: string;
  port: number;
  hits: Hit[];
  /** Hits of one event type. */
  of(type: string): Hit[];
  close(): Promise<void>;
}

/** An HTTP webhook receiver on loopback answering 204 to everything; `port` to take a chosen one. */
export async function startHookReceiver(port = 0): Promise<HookReceiver> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: Record<string, unknown> };
      hits.push({ delivery: String(req.headers['x-parley-delivery']), type: body.type, data: body.data });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/hook`,
    port: p,
    hits,
    of: (type) => hits.filter((h) => h.type === type),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A recording decoded by ffmpeg (any format it reads) to mono 16-bit PCM at `rate`. */
export function decodeWithFfmpeg(path: string, rate = 16000): Int16Array {
  const out = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', String(rate), '-'], { maxBuffer: 1 << 28 });
  return new Int16Array(out.buffer, out.byteOffset, out.byteLength >> 1);
}

/** The duration ffprobe reads from the file's header (seconds). */
export function ffprobeSeconds(path: string): number {
  return Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path], { encoding: 'utf8' }).trim());
}

/** Which of `freqs` holds the most of `pcm` (median share over 100 ms windows, medianToneShare), and that share. */
export function dominantTone(pcm: Int16Array, rate: number, freqs: readonly number[]): { hz: number; share: number } {
  let best = { hz: 0, share: -1 };
  for (const hz of freqs) {
    const share = medianToneShare(pcm, hz, rate);
    if (share > best.share) best = { hz, share };
  }
  return best;
}

/** Routing and a flow that answers every call, records it and holds it for `holdMs` (then hangs up). */
export function recordFlowYaml(holdMs: number): string {
  return `
routing:
  rules: [{ name: rec, match: { method: INVITE, media: audio }, actions: [{ app: rec }] }]
flows:
  rec: [answer, { record: { action: start } }, { play: { tone: "silence:${holdMs}" } }, hangup]
`;
}

/** The API on (any port), its state files under `state`, and one webhook to `receiver` for `events`; `fastRetry`: back-off 100 → 500 ms. */
export function hookApiYaml(state: string, receiver: HookReceiver, events: readonly string[], fastRetry = true): string {
  return `
api:
  enabled: true
  port: 0
  token: ${TEST_TOKEN}
  rulesStateFile: ${state}/rules.json
  webhookSpoolFile: ${state}/spool.jsonl
  webhookDeadLetterFile: ${state}/dead.jsonl
${fastRetry ? '  webhookRetryBaseMs: 100\n  webhookRetryMaxMs: 500\n' : ''}  webhooks: [{ url: "${receiver.url}", secret: s3cret, events: [${events.join(', ')}] }]
`;
}
