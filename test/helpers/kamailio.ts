// Starts a real Kamailio (Debian) on loopback with examples/kamailio/parley-upstream.cfg:
// the upstream proxy that reroutes new INVITEs to Parley unless they carry its marker.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KamailioOptions {
  parleyUri: string;
  markerHeader: string;
  /** The address Parley sends from (default 127.0.0.1): only its marker is trusted. */
  parleyIp?: string;
}

export interface RunningKamailio {
  port: number;
  /** Everything Kamailio logged (its xlog lines say what it rerouted and relayed). */
  log(): string;
  stop(): Promise<void>;
}

/** A UDP port that was free a moment ago (Kamailio cannot bind port 0 and report it). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

export async function startKamailio(options: KamailioOptions): Promise<RunningKamailio> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-kamailio-'));
  const port = await freeUdpPort();
  const cfg = readFileSync(new URL('../../examples/kamailio/parley-upstream.cfg', import.meta.url), 'utf8')
    .replaceAll('LISTEN', `udp:127.0.0.1:${port}`)
    .replaceAll('PARLEY_URI', options.parleyUri)
    .replaceAll('PARLEY_IP', options.parleyIp ?? '127.0.0.1')
    .replaceAll('MARKER_HDR', options.markerHeader);
  return runKamailio(dir, port, cfg, /Listening on/);
}

/**
 * Writes `cfg` into `dir` and runs Kamailio on it in the foreground, resolving once
 * its output (stdout and stderr) matches `ready`.
 */
export async function runKamailio(dir: string, port: number, cfg: string, ready: RegExp): Promise<RunningKamailio> {
  const file = join(dir, 'kamailio.cfg');
  writeFileSync(file, cfg);
  const child: ChildProcess = spawn('kamailio', ['-f', file, '-DD', '-E', '-Y', dir, '-w', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kamailio did not start:\n${out}`)), 10_000);
    const check = (): void => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kamailio exited with ${code}:\n${out}`));
    });
  });
  return {
    port,
    log: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
