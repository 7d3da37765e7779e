// What `parley start` prints for someone who just typed the start command: once running,
// where to point a phone, where the recordings go, whether and where the API answers;
// when start-up fails, what to do about it.
import path from 'node:path';
import type { Parley } from './app.ts';
import { WorkerBinaryError } from './media-plane/worker-binary.ts';
import { RecordingDirInUseError } from './recording/dir-lock.ts';
import { isListenFailure } from './util/listen-error.ts';

export function startHints(app: Parley, configFile: string): Record<string, string> {
  const config = app.config;
  const api = app.api;
  const hints: Record<string, string> = {
    sip: app.sipHostports.split(',').filter(Boolean).join(' '),
    recordings: path.resolve(config.recording.dir),
    api: api ? `${api.url} (header Authorization: Bearer <api.token>)` : `off (set api.enabled and api.token in ${configFile})`,
  };
  if (api && config.api.console.enabled) hints.console = `${api.url}/console/`;
  hints.tryIt = `${demoCommand(app.sipHostports, hints.recordings)}, or point a phone at the sip address as its outbound proxy`;
  return hints;
}

/**
 * scripts/demo-call.sh calls over UDP, 127.0.0.1:5060 unless told where, and lists the
 * recording it made from ./recordings unless told which folder (`recordings`: the absolute
 * recording.dir).
 */
export function demoCommand(hostports: string, recordings: string = path.resolve('recordings')): string {
  const udp = hostports.split(',').find((h) => h.startsWith('udp/'));
  if (!udp) return 'a SIP phone over TCP (scripts/demo-call.sh needs a UDP listener)';
  const hostport = udp.slice('udp/'.length).replace(/^0\.0\.0\.0:/, '127.0.0.1:');
  const ownDir = recordings !== path.resolve('recordings');
  const args = ownDir ? ` ${hostport} ${shellWord(recordings)}` : hostport === '127.0.0.1:5060' ? '' : ` ${hostport}`;
  return `bash scripts/demo-call.sh${args} (a SIPp call through Parley)`;
}

/** A path as one shell word. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** One or two lines for stderr when start-up failed: what went wrong and what to do. */
export function startFailureText(err: unknown, configFile: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const hint = startFailureHint(err, configFile);
  return `parley: cannot start: ${message}\n${hint ? `  ${hint}\n` : ''}`;
}

export function startFailureHint(err: unknown, configFile: string): string | null {
  if (err instanceof WorkerBinaryError) return err.hint;
  if (err instanceof RecordingDirInUseError) {
    return `its recordings, audit log and signing key are that Parley's: stop it, or give this one its own recording.dir in ${configFile} (a second Parley beside the first needs other ports too)`;
  }
  if (!isListenFailure(err)) return null;
  const { key, host, port } = err;
  switch (err.code) {
    case 'EADDRINUSE':
      return (
        `another process holds ${host}:${port} (another Parley? \`ss -lntup | grep :${port}\` names it): ` +
        `stop it, or set ${key}.port to a free port in ${configFile}`
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `${host} is not an address of this machine (\`ip -brief address\` lists them): set ${key}.host in ${configFile}`;
    case 'EACCES':
      return `ports below 1024 need root (or CAP_NET_BIND_SERVICE): start as root, or set ${key}.port to 1024 or above in ${configFile}`;
    default:
      return null;
  }
}
