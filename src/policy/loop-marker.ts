// Parley's loop marker, the header on every leg Parley places (routing.loopMarker): an
// upstream proxy that reroutes INVITEs to Parley sends Parley's own B legs back to it,
// and the marker tells the rule chain not to give them to an app again. A marker
// anyone can write would let a caller skip the notice and the recording with one
// header, so the value carries a stamp: `b2b;t=<unix seconds>;sig=<HMAC-SHA256 of the
// value and t, 128 bits, base64url>`, with a key only Parley holds
// (routing.loopMarker.secret; else, in a cluster, one derived from the API token all
// nodes share; else random per process). A request is marked when one of the header's
// values is a stamp of ours made within WINDOW_S (either way: clocks of a cluster's
// nodes differ a little). A proxy that matches on the header's presence or on its first
// token (`b2b`) works as before.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How old a stamp may be when its leg comes back (a 3xx followed after ringing, a slow proxy). */
const WINDOW_S = 300;
const SIG_BYTES = 16;

export class LoopMarker {
  readonly header: string;
  private readonly base: string;
  private readonly key: Buffer;

  constructor(
    config: { header: string; value: string },
    key: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.header = config.header;
    this.base = config.value;
    this.key = key;
  }

  /** The key: routing.loopMarker.secret, else one a cluster's nodes share (derived from their API token), else random. */
  static keyFor(c: { routing: { loopMarker: { secret?: string | null } }; cluster?: unknown; api: { token: string | null; tokens: { token: string }[] } }): Buffer {
    const secret = c.routing.loopMarker.secret;
    if (secret) return createHash('sha256').update(secret).digest();
    const shared = c.cluster ? (c.api.token ?? c.api.tokens[0]?.token) : undefined;
    if (shared) return createHash('sha256').update(`parley loop marker\0${shared}`).digest();
    return randomBytes(32);
  }

  /** A fresh stamp, for the leg placed now (read as `value`, so `{ [m.header]: m.value }` stamps). */
  get value(): string {
    const t = Math.floor(this.now() / 1000);
    return `${this.base};t=${t};sig=${this.sign(t).toString('base64url')}`;
  }

  /** Whether a header value (comma-separated values allowed) holds a stamp of ours made within the window. */
  verify(raw: string | undefined): boolean {
    if (!raw) return false;
    const nowS = this.now() / 1000;
    for (const part of raw.split(',')) {
      const [first, ...params] = part.split(';').map((s) => s.trim());
      if (first !== this.base) continue;
      const p = new Map(params.map((x) => [x.slice(0, x.indexOf('=')).toLowerCase(), x.slice(x.indexOf('=') + 1)] as const));
      const t = Number(p.get('t'));
      const sig = Buffer.from(p.get('sig') ?? '', 'base64url');
      if (!Number.isSafeInteger(t) || Math.abs(nowS - t) > WINDOW_S || sig.length !== SIG_BYTES) continue;
      if (timingSafeEqual(sig, this.sign(t))) return true;
    }
    return false;
  }

  private sign(t: number): Buffer {
    return createHmac('sha256', this.key).update(`${this.base}\0${t}`).digest().subarray(0, SIG_BYTES);
  }
}
