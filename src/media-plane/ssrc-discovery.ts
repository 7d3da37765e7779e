// Learns the SSRCs SIP peers send, which mediasoup must know to route a packet
// (see leg-transport.ts). The worker, started with logTags ['rtp'], warns
// "no suitable Producer for received RTP packet [ssrc:S, payloadType:P]" with
// its pid but not the transport. A discovery pass then asks the legs on that
// worker which transports received bytes that no producer took, and gives the
// SSRC to each of them: a producer made on the wrong transport never matches
// a packet (SSRC tables are per transport), so a rare tie costs an idle
// producer, never misrouted audio (idle ones are pruned by their leg). When
// many streams start at once (S new SSRCs, C legs growing) all pairs would
// cost S·C producers, so above PAIR_BUDGET each SSRC gets PAIR_BUDGET / S
// candidates per pass, never one it was already tried on: a wrong pair shows
// up again in the next pass (the SSRC keeps warning) and moves on to legs not
// yet tried, so every SSRC finds its leg within C·S / PAIR_BUDGET passes. One
// pass per worker at a time; warnings arriving meanwhile queue for the next pass.
import { performance } from 'node:perf_hooks';
import * as mediasoup from 'mediasoup';
import type { Logger } from '../util/logger.ts';

const PAIR_BUDGET = 64;
const NO_STREAM = /\[pid:(\d+)\].*no stream found for received packet \[ssrc:(\d+)\]/;

const NO_PRODUCER = /\[pid:(\d+)\].*no suitable Producer for received RTP packet \[ssrc:(\d+), payloadType:(\d+)\]/;

/** The per-transport counters and bookkeeping discovery works with. */
export interface DiscoveryTarget {
  traffic(): Promise<{ unrouted: number; routed: number }>;
  hasProducerFor(ssrc: number): boolean;
  noStreamFor(ssrc: number): Promise<void>;
  lastUnrouted: number;
  lastGrowthAt: number;
  /** When its unrouted bytes first grew (its peer's first packet, to a pass's precision). */
  firstGrowthAt?: number;
}

/** What discovery needs from a leg. */
export interface DiscoverableLeg {
  readonly isClosed: boolean;
  /** Whether the peer may send this payload type to us (audio or telephone-event). */
  acceptsPt(pt: number): boolean;
  readonly discoveryTarget: DiscoveryTarget | null;
  discoveredSsrc(ssrc: number, firstPt?: number): Promise<void>;
}

/** A leg that never had a routed packet stays a candidate this long after its counter last grew. */
const FRESH_WINDOW_MS = 100;
/** Warnings are batched this long before a pass, so one pass sees every stream of a burst. */
const BATCH_MS = 25;
/** How long an in-order pairing attempt is remembered (see SsrcDiscovery.attempts). */
const ATTEMPT_MEMORY_MS = 3000;

interface WorkerState {
  legs: Set<DiscoverableLeg>;
  /** SSRC → payload type of the packet that revealed it. */
  queued: Map<number, number>;
  running: boolean;
  timer: NodeJS.Timeout | null;
  /** SSRCs whose producer is being recreated. */
  fixing: Set<number>;
}

export class SsrcDiscovery {
  private readonly workers = new Map<number, WorkerState>();
  private installed = false;
  /** SSRCs no leg claimed in several passes: not looked at again until then (a stray sender must not cost a pass every 25 ms). */
  private readonly ignoredUntil = new Map<number, number>();
  private readonly misses = new Map<number, number>();
  /** Last time each kind of other worker warning was logged (they can come once per packet). */
  private readonly lastLogged = new Map<string, number>();
  /**
   * The legs an SSRC was already tried on (when too many start at once), and
   * when last. A wrong pair shows up again within a pass or two, so an entry
   * older than ATTEMPT_MEMORY_MS is stale: the SSRC is a new stream (a phone
   * that reuses the SSRC of a call that ended) and starts afresh.
   */
  private readonly attempts = new Map<number, { tried: Set<DiscoverableLeg>; at: number }>();
  /** When each unknown SSRC was first warned about (forgotten with its attempts). */
  private readonly firstSeen = new Map<number, number>();

  constructor(
    private readonly log: Logger,
    private readonly attemptMemoryMs = ATTEMPT_MEMORY_MS,
  ) {}

  /** Routes mediasoup's log events: discovery reads the 'rtp' warnings, pino gets the rest. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    const log = this.log.child({ component: 'mediasoup' });
    mediasoup.setLogEventListeners({
      ondebug: () => {},
      onwarn: (namespace: string, message: string) => {
        if (this.onWarn(message)) return;
        // e.g. "unknown payload type" for every comfort-noise packet: once per 10 s per kind.
        const kind = message.replace(/\d+/g, '#');
        const now = performance.now();
        if (now - (this.lastLogged.get(kind) ?? -Infinity) < 10_000) return;
        if (this.lastLogged.size > 1000) this.lastLogged.clear();
        this.lastLogged.set(kind, now);
        log.warn({ namespace }, message);
      },
      onerror: (namespace: string, message: string, error?: Error) => log.error({ namespace, err: error }, message),
    });
  }

  uninstall(): void {
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
    if (!this.installed) return;
    this.installed = false;
    mediasoup.setLogEventListeners(undefined);
  }

  track(workerPid: number, leg: DiscoverableLeg): void {
    let w = this.workers.get(workerPid);
    if (!w) {
      w = { legs: new Set(), queued: new Map(), running: false, timer: null, fixing: new Set() };
      this.workers.set(workerPid, w);
    }
    w.legs.add(leg);
  }

  untrack(workerPid: number, leg: DiscoverableLeg): void {
    const w = this.workers.get(workerPid);
    if (!w) return;
    w.legs.delete(leg);
    if (w.legs.size === 0 && !w.running) this.workers.delete(workerPid);
  }

  /** Returns true when the message was a no-producer warning (handled, not logged). */
  onWarn(message: string): boolean {
    const ns = NO_STREAM.exec(message);
    if (ns) {
      this.onNoStream(Number(ns[1]), Number(ns[2]));
      return true;
    }
    const m = NO_PRODUCER.exec(message);
    if (!m) return false;
    const pid = Number(m[1]);
    const ssrc = Number(m[2]);
    const pt = Number(m[3]);
    const w = this.workers.get(pid);
    if (!w || w.legs.size === 0) return true;
    const until = this.ignoredUntil.get(ssrc);
    if (until !== undefined) {
      if (performance.now() < until) return true;
      this.ignoredUntil.delete(ssrc);
    }
    if (!w.queued.has(ssrc)) w.queued.set(ssrc, pt);
    if (!this.firstSeen.has(ssrc)) {
      if (this.firstSeen.size > 10000) this.firstSeen.clear(); // stray senders: keep it bounded
      this.firstSeen.set(ssrc, performance.now());
    }
    if (!w.running) {
      w.running = true;
      w.timer = setTimeout(() => {
        w.timer = null;
        this.run(pid, w).catch((err: unknown) => this.log.error({ err }, 'ssrc discovery failed'));
      }, BATCH_MS);
    }
    return true;
  }

  private onNoStream(pid: number, ssrc: number): void {
    const w = this.workers.get(pid);
    if (!w || w.fixing.has(ssrc)) return;
    for (const l of w.legs) {
      const t = l.discoveryTarget;
      if (!t || !t.hasProducerFor(ssrc)) continue;
      w.fixing.add(ssrc);
      t.noStreamFor(ssrc)
        .catch((err: unknown) => this.log.warn({ err, ssrc }, 'recreating a producer failed'))
        .finally(() => w.fixing.delete(ssrc));
    }
  }

  /**
   * Over budget: each SSRC (in order of first warning) gets its share of the
   * budget in candidates it was not tried on yet, starting at its own offset in
   * creation order, so that streams that start in call order pair at once and
   * the others cover every candidate in as few passes as the budget allows.
   */
  private spreadPairs(queued: [number, number][], legs: DiscoverableLeg[]): [DiscoverableLeg, number, number][] {
    const at = performance.now();
    // Both orders follow the same event, a peer's first packet: SSRCs by their
    // first warning, legs by when their unrouted bytes first grew (creation
    // order among equals). Rank r's first guess is the leg of rank r.
    const ssrcs = [...queued].sort((a, b) => (this.firstSeen.get(a[0]) ?? at) - (this.firstSeen.get(b[0]) ?? at));
    const candidates = legs
      .map((l, i) => ({ l, i, t: l.discoveryTarget?.firstGrowthAt ?? Infinity }))
      .sort((a, b) => a.t - b.t || a.i - b.i)
      .map((x) => x.l);
    for (const [s, a] of this.attempts) if (at - a.at > this.attemptMemoryMs) this.attempts.delete(s);
    for (const [s, t] of this.firstSeen) if (at - t > this.attemptMemoryMs && !this.attempts.has(s)) this.firstSeen.delete(s);
    const share = Math.max(1, Math.floor(PAIR_BUDGET / ssrcs.length));
    const pairs: [DiscoverableLeg, number, number][] = [];
    ssrcs.forEach(([s, pt], i) => {
      let a = this.attempts.get(s);
      if (!a || candidates.every((l) => a!.tried.has(l))) {
        // New, or tried everywhere (its leg was not growing then): start over.
        a = { tried: new Set(), at };
        this.attempts.set(s, a);
      }
      a.at = at;
      for (let k = 0, picked = 0; k < candidates.length && picked < share; k++) {
        const l = candidates[(i + k) % candidates.length];
        if (a.tried.has(l)) continue;
        a.tried.add(l);
        pairs.push([l, s, pt]);
        picked++;
      }
    });
    return pairs;
  }

  private async run(pid: number, w: WorkerState): Promise<void> {
    w.running = true;
    try {
      while (w.queued.size > 0) {
        const ssrcs = [...w.queued];
        w.queued.clear();
        const legs = [...w.legs].filter((l) => !l.isClosed && l.discoveryTarget);
        const now = performance.now();
        const grew = await Promise.all(
          legs.map(async (l) => {
            const t = l.discoveryTarget!;
            const c = await t.traffic().catch(() => null);
            if (!c) return false;
            const growing = c.unrouted > t.lastUnrouted;
            t.lastUnrouted = c.unrouted;
            if (growing) {
              t.lastGrowthAt = now;
              t.firstGrowthAt ??= now;
            }
            // A leg that never had a routed packet and grew lately is still waiting for its stream.
            return growing || (c.routed === 0 && now - t.lastGrowthAt < FRESH_WINDOW_MS);
          }),
        );
        let candidates = legs.filter((_, i) => grew[i]);
        if (candidates.length === 0) {
          // The worker's byte counters can lag the warnings by up to ~100 ms.
          // Rather than lose the start of the stream (a whole DTMF digit on its
          // own SSRC), try every leg that negotiated that payload type when few.
          const byPt = legs.filter((l) => ssrcs.some(([, pt]) => l.acceptsPt(pt)));
          if (byPt.length * ssrcs.length <= PAIR_BUDGET) candidates = byPt;
        }
        this.log.debug({ pid, ssrcs: ssrcs.map(([x]) => x), legs: legs.length, candidates: candidates.length }, 'ssrc discovery pass');
        if (candidates.length === 0) {
          for (const [ssrc] of ssrcs) {
            const m = (this.misses.get(ssrc) ?? 0) + 1;
            this.misses.set(ssrc, m);
            if (m >= 5) {
              this.misses.delete(ssrc);
              this.ignoredUntil.set(ssrc, performance.now() + 2000);
            }
          }
          if (this.misses.size > 10000) this.misses.clear();
          if (this.ignoredUntil.size > 10000) this.ignoredUntil.clear();
        }
        const pairs: [DiscoverableLeg, number, number][] = [];
        if (candidates.length * ssrcs.length <= PAIR_BUDGET) {
          for (const l of candidates) for (const [s, pt] of ssrcs) pairs.push([l, s, pt]);
        } else {
          pairs.push(...this.spreadPairs(ssrcs, candidates));
          this.log.debug({ pid, ssrcs: ssrcs.length, candidates: candidates.length, pairs: pairs.length }, 'ssrc discovery: many new streams at once, pairing in turns');
        }
        await Promise.all(pairs.map(([l, s, pt]) => l.discoveredSsrc(s, pt).catch((err: unknown) => this.log.warn({ err, ssrc: s }, 'producer for discovered SSRC failed'))));
      }
    } finally {
      w.running = false;
      if (w.legs.size === 0) this.workers.delete(pid);
    }
  }
}
