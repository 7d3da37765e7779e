// A real drachtio-server for the checks that compare it with the embedded server. Only
// used when PARLEY_DRACHTIO_BIN names a built `drachtio` binary (see
// ../shared/notes/drachtio-server-build.md); the test command never needs one.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig, type SipConfig } from '../../src/config/schema.ts';
import { connectSrf, type SrfConnection } from '../../src/signaling/srf-connection.ts';
import { freePort } from './free-port.ts';
import { testLogger } from './sip-harness.ts';

export const DRACHTIO_BIN = process.env.PARLEY_DRACHTIO_BIN ?? '';

/**
 * PARLEY_TEST_VIA_DRACHTIO=1 (with PARLEY_DRACHTIO_BIN): every Parley the harness starts
 * (startParley, parleyPerSuite, spawnParley) gets its own real drachtio-server and connects
 * to it with sip.server: remote, unless the test opts out (it needs the embedded server's
 * own listeners: TLS, IPv6, sip.listen).
 */
export const VIA_DRACHTIO = process.env.PARLEY_TEST_VIA_DRACHTIO === '1' && DRACHTIO_BIN !== '';

export interface RealDrachtio {
  conn: SrfConnection;
  sipPort: number;
  /** The sip config the app connected with (sip.server: remote). */
  sip: SipConfig;
  /** The server's log file (kept until close). */
  logFile: string;
  close(): Promise<void>;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`drachtio-server did not open its admin port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Servers still running, killed when the test process exits: a test that failed before its
 * after hook closed one must not leave it behind. Their processes are unref'd, so a server
 * nobody closed does not keep the test process (and the test run) from ending.
 */
const live = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    if (!process.env.PARLEY_DRACHTIO_KEEP) rmSync(dir, { recursive: true, force: true });
  }
});

/** A drachtio-server process on free loopback ports, no app connected (a whole Parley may connect with sip.server: remote). */
export interface RealDrachtioServer {
  /** The server's process id. */
  pid: number;
  controlPort: number;
  secret: string;
  sipPort: number;
  /** The server's log file (kept until close). */
  logFile: string;
  close(): Promise<void>;
}

export interface RealDrachtioOptions {
  /** The SIP address and port (default 127.0.0.1 and a free port). */
  sipHost?: string;
  sipPort?: number;
  /** SIP timers in ms (default the server's: 500/4000/5000). */
  timers?: { t1: number; t2: number; t4: number };
}

/** Starts drachtio-server on free loopback ports and waits for its admin port. */
export async function spawnRealDrachtio(opts: RealDrachtioOptions = {}): Promise<RealDrachtioServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'parley-drachtio-'));
  const admin = await freePort();
  const sipPort = opts.sipPort ?? (await freePort());
  const t = opts.timers;
  const timers = t ? `<timers><t1>${t.t1}</t1><t2>${t.t2}</t2><t4>${t.t4}</t4><t1x64>${64 * t.t1}</t1x64></timers>` : '';
  const conf = `<drachtio>
  <admin port="${admin}" secret="cymru">127.0.0.1</admin>
  <sip><contacts><contact>sip:${opts.sipHost ?? '127.0.0.1'}:${sipPort};transport=udp,tcp</contact></contacts>${timers}</sip>
  <logging><file><name>${dir}/drachtio.log</name><archive>${dir}/archive</archive><size>10</size><maxFiles>1</maxFiles><auto-flush>true</auto-flush></file><loglevel>info</loglevel><sofia-loglevel>3</sofia-loglevel></logging>
</drachtio>
`;
  await writeFile(path.join(dir, 'drachtio.conf.xml'), conf);
  const child: ChildProcess = spawn(DRACHTIO_BIN, ['-f', path.join(dir, 'drachtio.conf.xml')], { stdio: 'ignore' });
  child.unref();
  live.set(child, dir);
  child.once('exit', () => live.delete(child));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // A server stuck after a failure may ignore SIGTERM (seen once): then SIGKILL.
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(kill);
    }
    if (!process.env.PARLEY_DRACHTIO_KEEP) await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(admin, 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  return { pid: child.pid ?? 0, controlPort: admin, secret: 'cymru', sipPort, logFile: path.join(dir, 'drachtio.log'), close };
}

/** Starts drachtio-server on free loopback ports and connects a drachtio-srf app to it with connectSrf. */
export async function startRealDrachtio(overrides: Partial<SipConfig> = {}): Promise<RealDrachtio> {
  const server = await spawnRealDrachtio();
  try {
    const sip: SipConfig = { ...defaultConfig.sip, ...overrides, server: 'remote', control: { host: '127.0.0.1', port: server.controlPort, secret: server.secret } };
    const conn = await connectSrf({ sip, log: testLogger() });
    return {
      conn,
      sipPort: server.sipPort,
      sip,
      logFile: server.logFile,
      close: async () => {
        conn.close();
        await server.close();
      },
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}
