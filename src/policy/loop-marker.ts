// Parley's loop marker, the header on every leg Parley places (routing.loopMarker): an
// upstream proxy that reroutes INVITEs to Parley sends Parley's own B legs back to it,
// and the marker tells the rule chain not to give them to an app again. A marker
// anyone can write would let a caller skip the notice and the recording with one
// header, so the value carries a stamp: `b2b;t=<unix seconds>;sig=<HMAC-SHA256 of the
// value, t, and the leg's Call-ID and From tag, 128 bits, base64url>`, with a key only
// Parley holds (routing.loopMarker.secret; else, in a cluster, one derived from the API
// token all nodes share; else random per process). Parley chooses that Call-ID and From
// tag itself (seal()), and proxies never change them, so a stamp is good for that leg
// alone: a callee that copies it onto an INVITE of its own (another Call-ID) has nothing.
// And since the callee of a leg that never came back through Parley has the leg's Call-ID
// too, a stamp is taken (admit()) only while Parley's own INVITE of that Call-ID is still
// unanswered (the leg's placing has not ended), only once (a retransmission of it is the
// SIP server's, and never reaches the rule chain), and within WINDOW_S of its making. A
// proxy that matches on the header's presence or on its first token (`b2b`) works as
// before.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { headerParamsAt } from '../sip/message/header-values.ts';

/** How old a stamp may be when its leg comes back (a 3xx followed after ringing, a slow proxy). */
const WINDOW_S = 300;
const SIG_BYTES = 16;

/** A leg being placed: its From tag, when its stamp was made, and whether it came back already. */
interface PlacedLeg {
  fromTag: string;
  t: number;
  taken: boolean;
}

/** What a leg's placing needs of the marker (CallSettings.loopMarker): its header, and seal() where the marker is Parley's own. */
export interface LegMarker {
  readonly header: string;
  readonly value: string;
  seal?(headers: Record<string, string>): () => void;
}

/** A From value's tag (a header parameter, never one of its URI's); '' without one. */
export function fromTagOf(from: string | undefined): string {
  if (!from) return '';
  const m = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(from.slice(headerParamsAt(from)));
  return m ? m[1]! : '';
}

export class LoopMarker implements LegMarker {
  readonly header: string;
  private readonly base: string;
  private readonly key: Buffer;
  /** The legs being placed now, by Call-ID: the only ones whose stamp admit() takes. */
  private readonly placed = new Map<string, PlacedLeg>();

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

  /**
   * The bare marker (`b2b`): what the call code writes in a leg's headers, for seal() to stamp
   * when the leg is placed. Unsealed it marks nothing (verify() and admit() want a stamp).
   */
  get value(): string {
    return this.base;
  }

  /** A stamp for the leg of this Call-ID and From tag, made now. */
  stamp(callId: string, fromTag: string): string {
    const t = Math.floor(this.now() / 1000);
    return `${this.base};t=${t};sig=${this.sign(t, callId, fromTag).toString('base64url')}`;
  }

  /**
   * Stamps the headers of a leg about to be placed, when they carry the marker: gives the leg a
   * Call-ID and a From tag of Parley's own (unless they have them), writes the stamp bound to
   * them, and holds the leg as placed until the returned function is called (its placing ended:
   * answered, failed or given up). Without the marker: nothing, and a no-op to call.
   */
  seal(headers: Record<string, string>): () => void {
    const name = Object.keys(headers).find((k) => k.toLowerCase() === this.header.toLowerCase());
    if (name === undefined) return () => undefined;
    const idName = Object.keys(headers).find((k) => /^(call-id|i)$/i.test(k));
    const callId = (idName ? headers[idName]!.trim() : '') || randomUUID();
    if (idName) delete headers[idName];
    headers['Call-ID'] = callId;
    const fromName = Object.keys(headers).find((k) => /^(from|f)$/i.test(k));
    let fromTag = fromName ? fromTagOf(headers[fromName]) : '';
    if (fromName && !fromTag) {
      fromTag = randomBytes(8).toString('hex');
      headers[fromName] = `${headers[fromName]!};tag=${fromTag}`;
    }
    headers[name] = this.stamp(callId, fromTag);
    const leg: PlacedLeg = { fromTag, t: this.now() / 1000, taken: false };
    this.placed.set(callId, leg);
    return () => {
      if (this.placed.get(callId) === leg) this.placed.delete(callId);
    };
  }

  /**
   * Whether an INVITE is one of Parley's legs come back: its marker a stamp of ours for its own
   * Call-ID and From tag, made within the window, of a leg Parley is placing now, and not seen
   * before. The first such arrival takes the leg: the same stamp again is not taken.
   */
  admit(raw: string | undefined, callId: string | undefined, from: string | undefined): boolean {
    const id = (callId ?? '').trim();
    const leg = this.placed.get(id);
    const fromTag = fromTagOf(from);
    if (!leg || leg.taken || leg.fromTag !== fromTag || Math.abs(this.now() / 1000 - leg.t) > WINDOW_S) return false;
    if (!this.verify(raw, id, fromTag)) return false;
    leg.taken = true;
    return true;
  }

  /** Whether a header value (comma-separated values allowed) holds a stamp of ours for this Call-ID and From tag made within the window. */
  verify(raw: string | undefined, callId: string, fromTag: string): boolean {
    if (!raw) return false;
    const nowS = this.now() / 1000;
    for (const part of raw.split(',')) {
      const [first, ...params] = part.split(';').map((s) => s.trim());
      if (first !== this.base) continue;
      const p = new Map(params.map((x) => [x.slice(0, x.indexOf('=')).toLowerCase(), x.slice(x.indexOf('=') + 1)] as const));
      const t = Number(p.get('t'));
      const sig = Buffer.from(p.get('sig') ?? '', 'base64url');
      if (!Number.isSafeInteger(t) || Math.abs(nowS - t) > WINDOW_S || sig.length !== SIG_BYTES) continue;
      if (timingSafeEqual(sig, this.sign(t, callId, fromTag))) return true;
    }
    return false;
  }

  private sign(t: number, callId: string, fromTag: string): Buffer {
    return createHmac('sha256', this.key).update(`${this.base}\0${t}\0${callId}\0${fromTag}`).digest().subarray(0, SIG_BYTES);
  }
}
