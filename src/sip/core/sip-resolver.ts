// RFC 3263 §4 for the embedded server: where a request to a SIP URI goes. A numeric host,
// or a host with a port, is used as it is (A/AAAA for a name). A bare domain is looked up
// first as NAPTR (SIP+D2U, SIP+D2T, SIPS+D2T, §4.1), then, without NAPTR, as SRV for each
// transport (_sip._udp, _sip._tcp, _sips._tcp, §4.2); the SRV targets are ordered by
// priority and, within one, by weight (RFC 2782), each name then looked up as A/AAAA.
// Without either, the domain's own A/AAAA at 5060 (5061 for TLS). The caller gets every
// target in order, to try the next after a transport error or a 503 (§4.3).
//
// A DNS server that does not answer must not hold every call to that domain for its timeout:
// each NAPTR/SRV query waits at most `timeoutMs` once (no retries), queries in flight for a
// name are shared, and what a query found (records, none, or no answer in time) is kept for
// `cacheMs`. A/AAAA go through dns.lookup, as before (/etc/hosts, then the system's DNS).
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { NaptrRecord, SrvRecord } from 'node:dns';
import type { Logger } from '../../util/logger.ts';
import { parseUri } from '../message/header-values.ts';
import { SipError } from '../message/sip-error.ts';
import type { Endpoint, TransportName } from '../transport/transport-types.ts';
import { isSipsUri, noTlsForSips } from './sips-hop.ts';

export interface SipResolverOptions {
  /** DNS servers for NAPTR and SRV (`ip` or `ip:port`); empty: the system's (/etc/resolv.conf). */
  servers: string[];
  /** How long one NAPTR or SRV query may take. */
  timeoutMs: number;
  /** How long an answer (or its absence) is kept. */
  cacheMs: number;
  /** false: A/AAAA only, as before RFC 3263 §4.1's NAPTR and SRV. */
  srv: boolean;
  /** How long a target that has sent nothing is waited for while another is left (0: its transaction's timeout); see dns-failover.ts. */
  failoverAfterMs?: number;
  log?: Logger;
  /** The transports there is a listener for: DNS naming another is passed over. */
  supports?: (t: TransportName) => boolean;
}

/** SRV targets tried for one request, at most: each is an A/AAAA lookup (a libuv pool thread). */
const MAX_TARGETS = 4;

const DEFAULT_FAILOVER_AFTER_MS = 4000;

export const DEFAULT_RESOLVER: SipResolverOptions = { servers: [], timeoutMs: 2000, cacheMs: 60_000, srv: true, failoverAfterMs: DEFAULT_FAILOVER_AFTER_MS };

/** A NAPTR service field and the SRV prefix and transport it stands for (RFC 3263 §4.1). */
const SERVICES: Record<string, { prefix: string; transport: TransportName }> = {
  'SIP+D2U': { prefix: '_sip._udp.', transport: 'udp' },
  'SIP+D2T': { prefix: '_sip._tcp.', transport: 'tcp' },
  'SIPS+D2T': { prefix: '_sips._tcp.', transport: 'tls' },
};

interface Cached<T> {
  at: number;
  value: Promise<T>;
}

export class SipResolver {
  private readonly resolver: Resolver;
  private readonly naptrs = new Map<string, Cached<NaptrRecord[]>>();
  private readonly srvs = new Map<string, Cached<SrvRecord[]>>();
  /**
   * Since start: requests whose destinations came from SRV records (srvRouted), NAPTR or SRV
   * queries that failed other than by "no such records" (a timeout, a refusal, SERVFAIL), and
   * requests sent on to a next target after a failure (failovers: counted by the senders).
   */
  readonly counts = { srvRouted: 0, queryFailures: 0, failovers: 0 };

  /** sip.dns.failoverAfterMs (dns-failover.ts). */
  get failoverAfterMs(): number {
    return this.opts.failoverAfterMs ?? DEFAULT_FAILOVER_AFTER_MS;
  }

  constructor(private readonly opts: SipResolverOptions = DEFAULT_RESOLVER) {
    this.resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
    if (opts.servers.length) this.resolver.setServers(opts.servers);
  }

  /**
   * Every place a request to `uri` may go, in the order to try them. `fallback`: the transport
   * when neither the URI nor DNS names one (a dialog's own). `requestUri`: the Request-URI of the
   * request going there when `uri` is another (a Route, an outbound proxy): a sips: one is taken
   * over TLS to that hop too (sips-hop.ts). Rejects when nothing resolves.
   */
  async destinations(uri: string, fallback: TransportName = 'udp', requestUri?: string | null): Promise<Endpoint[]> {
    const u = parseUri(uri);
    // A tel: URI names a number, not a place (RFC 3966): a rule must say where it goes.
    if (u.scheme !== 'sip' && u.scheme !== 'sips') throw new SipError(416, 'Unsupported URI Scheme', `cannot route a ${u.scheme}: URI`);
    const tp = (u.params.get('transport') ?? '').toLowerCase();
    const sips = u.scheme === 'sips' || isSipsUri(requestUri);
    if (sips && this.opts.supports && !this.opts.supports('tls')) throw noTlsForSips();
    const named: TransportName | null = sips || tp === 'tls' ? 'tls' : tp === 'tcp' ? 'tcp' : tp === 'udp' ? 'udp' : null;
    // DNS names are case-insensitive: one cache entry per name, however a URI spells it.
    const host = (u.params.get('maddr') ?? u.host).toLowerCase();
    if (isIP(host)) return [endpoint(named ?? fallback, host, u.port)];
    // §4.2: a port, or SRV switched off, means the host's own address records.
    if (u.port !== null || !this.opts.srv || localName(host)) return [await addressOf(named ?? fallback, host, u.port, host)];
    const srv = await this.srvTargets(host, named, sips);
    if (srv.length === 0) return [await addressOf(named ?? fallback, host, null, host)];
    // At most MAX_TARGETS, looked up at once (a domain's DNS decides how many there are).
    const looked = await Promise.allSettled(srv.slice(0, MAX_TARGETS).map((t) => addressOf(t.transport, t.name, t.port, host)));
    const out = looked.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (out.length > 0) this.counts.srvRouted++;
    if (out.length === 0) {
      const why = looked.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as unknown;
      throw why instanceof Error ? why : new Error(`no SRV target of ${host} resolves`);
    }
    return out;
  }

  /** §4.1–4.2: the SRV targets for `host`, in order, each with its transport. Empty: use A/AAAA. */
  private async srvTargets(host: string, named: TransportName | null, sips: boolean): Promise<{ transport: TransportName; name: string; port: number }[]> {
    const supported = this.opts.supports ?? (() => true);
    const wanted = (t: TransportName): boolean => supported(t) && (named ? t === named : !sips || t === 'tls');
    const defaults = Object.values(SERVICES).filter((s) => wanted(s.transport)).map((s) => ({ name: s.prefix + host, transport: s.transport }));
    const srv = (n: { name: string }): Promise<SrvRecord[]> => this.cached(this.srvs, n.name, () => this.resolver.resolveSrv(n.name), 'SRV');
    // §4.1: NAPTR says which transports, in what order, under which SRV names. Asked together
    // with the SRV names used without it: a server that does not answer costs one timeout.
    const [naptrs, plain] = await Promise.all([
      named ? Promise.resolve([]) : this.cached(this.naptrs, host, () => this.resolver.resolveNaptr(host), 'NAPTR'),
      Promise.all(defaults.map(srv)),
    ]);
    const naptr = naptrs
      .filter((r) => r.flags.toLowerCase() === 's' && SERVICES[r.service.toUpperCase()] && wanted(SERVICES[r.service.toUpperCase()]!.transport))
      .sort((a, b) => a.order - b.order || a.preference - b.preference);
    const names = naptr.length ? naptr.map((r) => ({ name: r.replacement, transport: SERVICES[r.service.toUpperCase()]!.transport })) : defaults;
    const answers = naptr.length ? await Promise.all(names.map(srv)) : plain;
    // The first name (in NAPTR or transport preference) that has records is the one used (§4.1).
    const i = answers.findIndex((a) => a.length > 0);
    if (i < 0) return [];
    // A target of "." says the service is not offered there (RFC 2782).
    return srvOrder(answers[i]!.filter((r) => r.name !== '' && r.name !== '.' && r.port > 0)).map((r) => ({ transport: names[i]!.transport, name: r.name, port: r.port }));
  }

  /** One query, shared while in flight and kept for cacheMs; no records, an error or a timeout is an empty answer. */
  private cached<T>(table: Map<string, Cached<T[]>>, name: string, query: () => Promise<T[]>, kind: string): Promise<T[]> {
    const now = Date.now();
    const hit = table.get(name);
    if (hit && now - hit.at < this.opts.cacheMs) return hit.value;
    if (table.size > 10_000) table.clear();
    const value = query().catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENODATA' && err.code !== 'ENOTFOUND') {
        this.counts.queryFailures++;
        this.opts.log?.info({ name, kind, code: err.code }, 'DNS query failed: A/AAAA used instead');
      }
      return [] as T[];
    });
    table.set(name, { at: now, value });
    return value;
  }
}

/**
 * RFC 2782: lowest priority first; within a priority, each next target drawn with a chance
 * proportional to its weight (a weight of 0 is drawn rarely, as the RFC's running-sum pick does).
 */
export function srvOrder(records: SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const out: SrvRecord[] = [];
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const left = records.filter((r) => r.priority === p).sort((a, b) => a.weight - b.weight);
    while (left.length) {
      const total = left.reduce((s, r) => s + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let run = 0;
      let i = 0;
      for (; i < left.length - 1; i++) {
        run += left[i]!.weight;
        if (run >= pick) break;
      }
      out.push(left.splice(i, 1)[0]!);
    }
  }
  return out;
}

/** RFC 6761: `localhost` and `.invalid` names are never asked of DNS (the former is /etc/hosts', the latter never exists). */
function localName(host: string): boolean {
  return /(^|\.)(localhost|invalid)\.?$/i.test(host);
}

function endpoint(transport: TransportName, address: string, port: number | null, hostName?: string): Endpoint {
  const e: Endpoint = { transport, address, port: port ?? (transport === 'tls' ? 5061 : 5060) };
  if (hostName) e.hostName = hostName;
  return e;
}

/** `name`'s address (A/AAAA); `hostName` is what TLS checks: the URI's domain, not the SRV target (RFC 5922 §4.1). */
async function addressOf(transport: TransportName, name: string, port: number | null, hostName: string): Promise<Endpoint> {
  const address = isIP(name) ? name : (await lookup(name.replace(/\.$/, ''))).address;
  return endpoint(transport, address, port, hostName);
}
