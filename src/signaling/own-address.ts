// Whether a SIP URI names Parley itself: its host and port are one of the SIP server's
// listening points (drachtio reports them with every request: `server.hostport`, `receivedOn`).
import { localAddresses } from '../util/local-addresses.ts';

export interface ServerAddresses {
  /** drachtio's listening points, e.g. `udp/127.0.0.1:5060,tcp/127.0.0.1:5060`. */
  hostport?: string;
  /** The address:port the request arrived on. */
  receivedOn?: string;
}

const URI_HOSTPORT = /^(sips?):(?:[^@]*@)?(\[[0-9a-fA-F:.]+\]|[^:;?>\s]+)(?::(\d{1,5}))?/i;

/** RFC 3261 §16.5 / §11: is `uri` (any user, or none) addressed to this server? */
export function isOwnAddress(uri: string, server: ServerAddresses): boolean {
  const m = URI_HOSTPORT.exec(uri.trim());
  if (!m) return false;
  const host = unbracket(m[2]!).toLowerCase();
  const port = m[3] ? Number(m[3]) : m[1]!.toLowerCase() === 'sips' ? 5061 : 5060;
  return listening(server).some((lp) => lp.port === port && (lp.host === host || (isWildcard(lp.host) && localAddresses().has(host))));
}

function listening(server: ServerAddresses): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  const entries = (server.hostport ?? '').split(',').map((e) => e.replace(/^[a-z]+\//i, ''));
  if (server.receivedOn) entries.push(server.receivedOn);
  for (const e of entries) {
    const colon = e.lastIndexOf(':');
    if (colon <= 0) continue;
    out.push({ host: unbracket(e.slice(0, colon)).toLowerCase(), port: Number(e.slice(colon + 1)) });
  }
  return out;
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isWildcard(h: string): boolean {
  return h === '0.0.0.0' || h === '::';
}
