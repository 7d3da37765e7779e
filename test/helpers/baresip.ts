// baresip (Debian's 1.0, libre with OpenSSL) as a real softphone that speaks SIP over TLS:
// headless, a sine tone as its microphone, one /dial command; its SIP trace (-s) is kept.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';

export interface BaresipRun {
  /** Everything baresip printed, its SIP trace included. */
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * `ptime`: the packet length baresip offers and sends (its account's ;ptime=, 20 by default).
 * `mediaenc`: its account's media encryption (`srtp-mand`: SDES-SRTP, RTP/SAVP; its srtp module).
 */
export async function dialWithBaresip(opts: { uri: string; caFile: string; certPem: Buffer; toneHz: number; quitAfterS: number; ptime?: number; mediaenc?: string }): Promise<BaresipRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baresip-'));
  const port = await freePort();
  // sip_certificate holds the certificate and its key; baresip opens its TLS transport with it.
  await writeFile(path.join(dir, 'cert.pem'), opts.certPem);
  const extra = [`sip_cafile ${opts.caFile}`, `sip_certificate ${path.join(dir, 'cert.pem')}`, ...(opts.mediaenc ? ['module srtp.so'] : [])];
  await writeFile(path.join(dir, 'config'), baresipConfig(port, opts.toneHz, extra));
  await writeFile(path.join(dir, 'accounts'), `<sip:alice@127.0.0.1>;regint=0${opts.ptime ? `;ptime=${opts.ptime}` : ''}${opts.mediaenc ? `;mediaenc=${opts.mediaenc}` : ''}\n`);
  // The menu's /dial puts `sip:` in front of what it is given.
  const target = opts.uri.replace(/^sip:/, '');
  const child = spawn('baresip', ['-f', dir, '-n', '127.0.0.1', '-s', '-t', String(opts.quitAfterS), '-e', `/dial ${target}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => rm(dir, { recursive: true, force: true })).catch(() => undefined);
  return {
    // baresip colours its trace with ANSI escapes (ESC [ … m).
    output: () => out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''),
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A headless baresip's config: SIP on 127.0.0.1:`port`, G.711, a `toneHz` sine as its microphone, no speaker; `extra` lines (TLS). */
function baresipConfig(port: number, toneHz: number, extra: string[] = []): string {
  return [
    'module_path /usr/lib/baresip/modules',
    `sip_listen 127.0.0.1:${port}`,
    ...extra,
    'module stdio.so',
    'module menu.so',
    'module g711.so',
    'module ausine.so',
    'module alsa.so',
    'module account.so',
    `audio_source ausine,${toneHz}`,
    'ausrc_srate 48000', // ausine makes 48 kHz stereo only; baresip resamples for the codec
    'ausrc_channels 2',
    'audio_player alsa,null',
    '',
  ].join('\n');
}

export interface BaresipCallee extends BaresipRun {
  /** Its SIP address (UDP on loopback). */
  uri: string;
  /** Types a menu command (`/transfer sip:…`). */
  command(line: string): void;
}

/** baresip as a callee over UDP that answers at once (answermode=auto), its microphone a `toneHz` sine. */
export async function answerWithBaresip(opts: { toneHz: number; quitAfterS: number }): Promise<BaresipCallee> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baresip-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'config'), baresipConfig(port, opts.toneHz));
  await writeFile(path.join(dir, 'accounts'), `<sip:bob@127.0.0.1:${port}>;regint=0;answermode=auto\n`);
  const child = spawn('baresip', ['-f', dir, '-n', '127.0.0.1', '-s', '-t', String(opts.quitAfterS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => rm(dir, { recursive: true, force: true })).catch(() => undefined);
  // Listening once it says so ("baresip is ready.", printed after its SIP transports are bound);
  // a call before would get ICMP port unreachable. (It never prints its UA's address here: a wait
  // for that took the whole 10 s every time.)
  const ready = Date.now() + 10_000;
  while (!/baresip is ready/.test(out) && child.exitCode === null && Date.now() < ready) await new Promise((r) => setTimeout(r, 50));
  if (!/baresip is ready/.test(out)) {
    child.kill();
    throw new Error(`baresip did not start:\n${out}`);
  }
  return {
    uri: `sip:bob@127.0.0.1:${port}`,
    command: (line) => child.stdin.write(`${line}\n`),
    output: () => out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''),
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
