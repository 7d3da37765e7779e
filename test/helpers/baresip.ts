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

/** `ptime`: the packet length baresip offers and sends (its account's ;ptime=, 20 by default). */
export async function dialWithBaresip(opts: { uri: string; caFile: string; certPem: Buffer; toneHz: number; quitAfterS: number; ptime?: number }): Promise<BaresipRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baresip-'));
  const port = await freePort();
  // sip_certificate holds the certificate and its key; baresip opens its TLS transport with it.
  await writeFile(path.join(dir, 'cert.pem'), opts.certPem);
  await writeFile(
    path.join(dir, 'config'),
    [
      'module_path /usr/lib/baresip/modules',
      `sip_listen 127.0.0.1:${port}`,
      `sip_cafile ${opts.caFile}`,
      `sip_certificate ${path.join(dir, 'cert.pem')}`,
      'module stdio.so',
      'module menu.so',
      'module g711.so',
      'module ausine.so',
      'module alsa.so',
      'module account.so',
      `audio_source ausine,${opts.toneHz}`,
      'ausrc_srate 48000', // ausine makes 48 kHz stereo only; baresip resamples for the codec
      'ausrc_channels 2',
      'audio_player alsa,null',
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'accounts'), `<sip:alice@127.0.0.1>;regint=0${opts.ptime ? `;ptime=${opts.ptime}` : ''}\n`);
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
