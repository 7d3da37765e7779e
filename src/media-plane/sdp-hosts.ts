// A c= line may name its host instead of giving an address (RFC 4566 §5.7 allows a fully
// qualified domain name; some PBXs, SBCs and softphones configured with a host name put it
// there). Before an SDP is negotiated, each such name is resolved as the operating system
// resolves names (dns.lookup: /etc/hosts, then DNS) in the family the line says, and the line
// is given the address, so negotiation, latching and the RTCP source check see an address
// as with any other peer. Asterisk and FreeSWITCH resolve such names the same way.
//
// Lookups take a slot of libuv's small thread pool, which the recordings' closing work uses
// too, and a peer chooses the names: at most MAX_IN_FLIGHT lookups run at once in a thread
// (one more is refused, not queued), each is given up after a timeout, at most MAX_NAMES
// names are resolved per SDP, and answers are kept for a while (a device sends its name with
// every call). A name that cannot be resolved is refused like an address that is not one:
// SdpNegotiationError with Warning 301 (→ 488), naming the name and why.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SdpNegotiationError } from './media-errors.ts';

/** The address `host` resolves to in `family`; rejects (with an errno-style code) when it does not. */
export type AddressLookup = (host: string, family: 4 | 6) => Promise<string>;

const systemLookup: AddressLookup = async (host, family) => (await dnsLookup(host, { family })).address;

/** A host name (RFC 1123 §2.1 labels; the last one starts with a letter, so a malformed dotted quad is not taken for a name). */
const HOST_NAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
/** A connection line: its family, its address (up to a multicast TTL's slash) and the rest. */
const CONNECTION = /^c=IN IP([46]) ([^\s/]+)(.*)$/gm;

export const MAX_IN_FLIGHT = 2;
export const MAX_NAMES = 2;
export const LOOKUP_TIMEOUT_MS = 2000;
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 256;

export interface SdpHostResolverOptions {
  lookup?: AddressLookup;
  timeoutMs?: number;
  now?: () => number;
}

export class SdpHostResolver {
  private inFlight = 0;
  private readonly cache = new Map<string, { address: string; until: number }>();
  private readonly lookup: AddressLookup;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: SdpHostResolverOptions = {}) {
    this.lookup = opts.lookup ?? systemLookup;
    this.timeoutMs = opts.timeoutMs ?? LOOKUP_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * The SDP with each c= line that names a host given its address (the SDP itself when none
   * does: the common case costs one regular-expression scan). Rejects with SdpNegotiationError
   * (Warning 301) when a name does not resolve in its line's family, in time, or at all now.
   */
  async resolve(sdp: string): Promise<string> {
    const names = new Map<string, 4 | 6>();
    for (const m of sdp.matchAll(CONNECTION)) {
      const [, ver, host] = m;
      if (isIP(host) !== 0 || !HOST_NAME.test(host)) continue; // an address, or something negotiation refuses as it is
      names.set(`${ver}/${host.toLowerCase()}`, ver === '6' ? 6 : 4);
    }
    if (names.size === 0) return sdp;
    if (names.size > MAX_NAMES) throw new SdpNegotiationError(`the SDP names ${names.size} different hosts in its c= lines; at most ${MAX_NAMES} are resolved`, 301);
    const addresses = new Map<string, string>();
    for (const [key, family] of names) addresses.set(key, await this.address(key.slice(2), family));
    return sdp.replace(CONNECTION, (line: string, ver: string, host: string, rest: string) => {
      const a = addresses.get(`${ver}/${host.toLowerCase()}`);
      return a === undefined ? line : `c=IN IP${ver} ${a}${rest}`;
    });
  }

  private async address(name: string, family: 4 | 6): Promise<string> {
    const key = `${family}/${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.address;
    this.cache.delete(key);
    const line = `c=IN IP${family} ${name.slice(0, 80)}`;
    if (this.inFlight >= MAX_IN_FLIGHT) throw new SdpNegotiationError(`${line}: not resolved, ${MAX_IN_FLIGHT} host names are being resolved already`, 301);
    // The slot is held until the lookup itself ends (a lookup given up on still holds its pool thread).
    this.inFlight++;
    const pending = this.lookup(name, family).finally(() => this.inFlight--);
    pending.catch(() => {}); // its failure is reported through the race below, or not at all after a timeout
    let timer: NodeJS.Timeout | undefined;
    try {
      const address = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: `no answer in ${this.timeoutMs} ms` })), this.timeoutMs);
        }),
      ]);
      if (isIP(address) !== family) throw Object.assign(new Error('wrong family'), { code: `resolved to ${address.slice(0, 45)}` });
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { address, until: this.now() + CACHE_TTL_MS });
      return address;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new SdpNegotiationError(`${line} does not resolve to an IPv${family} address (${code})`, 301);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The resolver of this thread (its lookups share the thread's limit). */
export const sdpHosts = new SdpHostResolver();
