// linphonec (Debian's linphone-cli 5.1) as a real softphone: headless, its microphone a WAV
// file (`soundcard use files` + `play`), Parley as its outbound proxy (the account's route,
// no REGISTER). Driven through its stdin; its console output and SIP log are kept.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Linphonec {
  /** Its console output so far. */
  output(): string;
  /** Its SIP log so far (belle-sip's trace, each message in full). */
  sipLog(): Promise<string>;
  command(line: string): void;
  /** Resolves when the console output matches (rejects after timeoutMs). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startLinphonec(opts: {
  user: string;
  host: string;
  sipPort: number;
  rtpPort: number;
  proxy: string;
  micWav: string;
  ipv6?: boolean;
  /** SDES-SRTP, mandatory, offering only these suites (its `srtp_crypto_suites`, e.g. `AES_CM_128_HMAC_SHA1_32`). */
  srtpSuites?: string;
}): Promise<Linphonec> {
  const dir = await mkdtemp(path.join(tmpdir(), 'linphonec-'));
  const rc = path.join(dir, 'rc');
  await writeFile(
    rc,
    [
      '[sip]',
      `bind_address=${opts.host}`,
      `contact=sip:${opts.user}@${opts.host}:${opts.sipPort}`,
      'guess_hostname=0',
      `use_ipv6=${opts.ipv6 ? 1 : 0}`,
      'auto_net_state_mon=0',
      'default_proxy=0',
      ...(opts.srtpSuites ? ['media_encryption=srtp', 'media_encryption_mandatory=1', `srtp_crypto_suites=${opts.srtpSuites}`] : []),
      '[rtp]',
      `audio_rtp_port=${opts.rtpPort}`,
      '[video]',
      'enabled=0',
      '[proxy_0]',
      `reg_proxy=<${opts.proxy};lr>`,
      `reg_route=<${opts.proxy};lr>`,
      `reg_identity=sip:${opts.user}@${opts.host}`,
      'reg_sendregister=0',
      'publish=0',
      '',
    ].join('\n'),
  );
  // Its call-history database (HOME below): without the folder, its core never turns on, and
  // it answers every incoming call 503 ("Linphone core global state is not on").
  await mkdir(path.join(dir, '.local', 'share', 'linphone'), { recursive: true });
  const logFile = path.join(dir, 'log.txt');
  // HOME: its call-history database goes to the temp folder, not the user's.
  const child = spawn('linphonec', ['-c', rc, '-d', '6', '-l', logFile], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const command = (line: string): void => {
    if (child.exitCode === null) child.stdin.write(line + '\n');
  };
  const waitFor = (re: RegExp, timeoutMs = 20_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const until = Date.now() + timeoutMs;
      const check = (): void => {
        if (re.test(out)) resolve();
        else if (Date.now() > until || child.exitCode !== null) reject(new Error(`linphonec did not print ${re}; it printed:\n${out}`));
        else setTimeout(check, 50);
      };
      check();
    });
  // The rc's sip_port is not applied by linphonec 5.1 here (it listens on no port); `ports sip` is.
  command(`ports sip ${opts.sipPort}`);
  // Its media would otherwise go out over IPv6 on a dual-stack machine (opts.ipv6: let it).
  if (!opts.ipv6) command('ipv6 disable');
  command('soundcard use files');
  command(`play ${opts.micWav}`);
  await waitFor(/Using wav files instead of soundcard/);
  return {
    output: () => out,
    sipLog: () => readFile(logFile, 'utf8').catch(() => ''),
    command,
    waitFor,
    stop: async () => {
      command('quit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
