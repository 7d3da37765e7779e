// Digest authentication (RFC 2617, as SIP uses it, RFC 3261 §22) for callers that
// are not trusted upstreams. Nonces are stateless: a timestamp and its HMAC under
// a per-process secret, valid for five minutes; an expired one is answered with
// stale=true so the client retries without asking its user.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface DigestConfig {
  realm: string;
  /** user name → password */
  users: Record<string, string>;
}

export type DigestResult = { ok: true; user: string } | { ok: false; challenge: string; reason: string };

const NONCE_TTL_MS = 5 * 60_000;
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export class DigestAuth {
  private readonly secret = randomBytes(32);

  constructor(
    private readonly config: DigestConfig,
    private readonly now: () => number = () => Date.now(),
  ) {}

  verify(method: string, authorization: string | undefined): DigestResult {
    if (!authorization) return this.fail('no credentials');
    const p = parseDigest(authorization);
    if (!p) return this.fail('not a Digest Authorization header');
    const { username, realm, nonce, uri, response, qop, nc, cnonce, algorithm } = p;
    if (!username || !nonce || !uri || !response) return this.fail('incomplete credentials');
    if (realm !== this.config.realm) return this.fail('wrong realm');
    if (algorithm && algorithm.toUpperCase() !== 'MD5') return this.fail('unsupported algorithm');
    const nonceState = this.checkNonce(nonce);
    if (nonceState === 'bad') return this.fail('unknown nonce');
    const password = this.config.users[username];
    if (password === undefined) return this.fail('unknown user');
    const ha1 = md5(`${username}:${realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected = qop ? md5(`${ha1}:${nonce}:${nc ?? ''}:${cnonce ?? ''}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    if (a.length !== b.length || !timingSafeEqual(a, b)) return this.fail('wrong password');
    if (nonceState === 'stale') return this.fail('stale nonce', true);
    return { ok: true, user: username };
  }

  /** A WWW-Authenticate value with a fresh nonce. */
  challenge(stale = false): string {
    const ts = this.now().toString(16);
    const nonce = `${ts}.${this.sign(ts)}`;
    return `Digest realm="${this.config.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  private fail(reason: string, stale = false): DigestResult {
    return { ok: false, challenge: this.challenge(stale), reason };
  }

  private sign(ts: string): string {
    return createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32);
  }

  private checkNonce(nonce: string): 'fresh' | 'stale' | 'bad' {
    const [ts, mac] = nonce.split('.');
    if (!ts || !mac || mac !== this.sign(ts)) return 'bad';
    return this.now() - parseInt(ts, 16) > NONCE_TTL_MS ? 'stale' : 'fresh';
  }
}

/** The parameters of `Digest k="v", k=v, …`; null when it is not a Digest header. */
export function parseDigest(header: string): Record<string, string> | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return null;
  const out: Record<string, string> = {};
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let x = re.exec(m[1]!); x; x = re.exec(m[1]!)) out[x[1]!.toLowerCase()] = x[2] !== undefined ? x[2].replace(/\\(.)/g, '$1') : x[3]!;
  return out;
}
