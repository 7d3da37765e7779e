// Starts a whole Parley in-process on loopback (free SIP port, control port 0,
// one mediasoup worker, temp recordings and prompt cache) with the given
// routing and flows, for end-to-end tests with real SIP clients.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { Parley } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { ParleyConfig } from '../../src/config/schema.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { freePort } from './free-port.ts';
import { spawnRealDrachtio, VIA_DRACHTIO, type RealDrachtioServer } from './real-drachtio.ts';

export interface RunningParley {
  app: Parley;
  sipPort: number;
  recordingDir: string;
  config: ParleyConfig;
  stop(): Promise<void>;
}

export interface ParleyOptions {
  sipPort?: number;
  /** The loopback address SIP listens on (default 127.0.0.1). */
  sipHost?: string;
  outboundProxy?: string;
  pauseMode?: 'skip' | 'silence';
  rtpTimeoutSec?: number;
  /** media.threads (default: the config's, one per core). */
  mediaThreads?: number;
  /** More keys of the media section (`webrtc: { timeoutSec: 10 }`). */
  media?: string;
  /** More keys of the sip section, one `key: value` each (`sourceBytesPerSecond: 0`). */
  sip?: string[];
  /** Connect to this SIP server's control port (`sip.server: remote`, sip.listen left at its default). */
  remote?: { controlPort: number; secret: string };
  /**
   * Stay on the embedded SIP server under PARLEY_TEST_VIA_DRACHTIO (the test checks the embedded
   * server's own listeners or behaviour). `udp6` and `tls` imply it.
   */
  embedded?: boolean;
  /** A UDP listener on [::1] (same port) besides the IPv4 ones: IPv6 SIP in and out. */
  udp6?: boolean;
  /** A TLS listener besides UDP and TCP (PEM files). */
  tls?: { port: number; cert: string; key: string; ca?: string };
  /** Where Parley logs (a capturing logger for tests that check log lines). */
  log?: Logger;
  /** The prompts folder (default the shipped prompts/). */
  prompts?: string;
  /** The recordings folder (default a new temp one) and more keys of the recording section (`a: 1, b: 2`). */
  recording?: { dir?: string; extra?: string };
}

const TIMERS = { t1: 100, t2: 400, t4: 500 };

/**
 * `yaml` holds the routing and flows sections (and anything else to override).
 * Under PARLEY_TEST_VIA_DRACHTIO=1 (see real-drachtio.ts) a real drachtio-server is started on
 * the SIP host and port (same timers) and Parley connects to it, unless the options keep it embedded.
 */
export async function startParley(yaml: string, opts: ParleyOptions = {}): Promise<RunningParley> {
  if (VIA_DRACHTIO && !opts.remote && !opts.embedded && !opts.udp6 && !opts.tls) {
    const server = await spawnRealDrachtio({ sipHost: opts.sipHost, sipPort: opts.sipPort, timers: TIMERS });
    try {
      const p = await startParley(yaml, { ...opts, remote: { controlPort: server.controlPort, secret: server.secret } });
      return { ...p, sipPort: server.sipPort, stop: () => stopBoth(p, server) };
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  if (opts.sipPort === undefined && !opts.remote) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startParley(yaml, { ...opts, sipPort: await freePort() });
      } catch (err) {
        // Another process took the free port between its pick and Parley's bind (test files run
        // side by side, scripts/run-tests.sh): another port, twice at most.
        if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw err;
      }
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-e2e-'));
  const sipPort = opts.sipPort ?? (await freePort());
  const base = `
log: { level: ${process.env.PARLEY_TEST_LOG ?? 'silent'}, pretty: false }
sip:
${opts.remote
    ? `  server: remote
  control: { host: 127.0.0.1, port: ${opts.remote.controlPort}, secret: ${opts.remote.secret} }`
    : `  listen: [{ transport: udp, host: ${opts.sipHost ?? '127.0.0.1'}, port: ${sipPort} }, { transport: tcp, host: ${opts.sipHost ?? '127.0.0.1'}, port: ${sipPort} }${opts.udp6 ? `, { transport: udp, host: '::1', port: ${sipPort} }` : ''}${tlsListen(opts.tls)}]
  control: { host: 127.0.0.1, port: 0, secret: e2e }`}
  timers: { t1: ${TIMERS.t1}, t2: ${TIMERS.t2}, t4: ${TIMERS.t4} }
  outboundProxy: ${opts.outboundProxy ? `"${opts.outboundProxy}"` : 'null'}
${(opts.sip ?? []).map((l) => `  ${l}\n`).join('')}media: { workers: 1${opts.rtpTimeoutSec !== undefined ? `, rtpTimeoutSec: ${opts.rtpTimeoutSec}` : ''}${opts.mediaThreads !== undefined ? `, threads: ${opts.mediaThreads}` : ''}${opts.media ? `, ${opts.media}` : ''} }
prompts: { dir: ${opts.prompts ?? resolve('prompts')}, cacheDir: ${join(dir, 'cache')} }
recording: { dir: ${opts.recording?.dir ?? join(dir, 'recordings')}, flushIntervalMs: 100${opts.pauseMode ? `, pauseMode: ${opts.pauseMode}` : ''}${opts.recording?.extra ? `, ${opts.recording.extra}` : ''} }
`;
  const config = parseConfig(base + yaml);
  const log = opts.log ?? createLogger({ level: config.log.level, pretty: false });
  const app = await Parley.start(config, log);
  return {
    app,
    sipPort,
    recordingDir: config.recording.dir,
    config,
    stop: () => app.shutdown(200),
  };
}

async function stopBoth(p: RunningParley, server: RealDrachtioServer): Promise<void> {
  try {
    await p.stop();
  } finally {
    await server.close();
  }
}

function tlsListen(t: { port: number; cert: string; key: string; ca?: string } | undefined): string {
  if (!t) return '';
  return `, { transport: tls, host: 127.0.0.1, port: ${t.port}, cert: ${t.cert}, key: ${t.key}${t.ca ? `, ca: ${t.ca}` : ''} }`;
}

/**
 * Starts Parley before the tests of the describe it is called in and stops it
 * after them; the function it returns gives the running Parley inside a test.
 */
export function parleyPerSuite(yaml: string, opts: ParleyOptions = {}): () => RunningParley {
  let parley: RunningParley | undefined;
  before(async () => {
    parley = await startParley(yaml, opts);
  });
  after(async () => {
    await parley?.stop();
  });
  return () => {
    if (!parley) throw new Error('Parley did not start');
    return parley;
  };
}
