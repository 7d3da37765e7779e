// Learns the SSRCs SIP peers send, which mediasoup must know to route a packet
// (see leg-transport.ts). The worker, started with logTags ['rtp'], warns
// "no suitable Producer for received RTP packet [ssrc:S, payloadType:P]" with
// its pid but not the transport. A discovery pass then asks the legs on that
// worker which transports received bytes that no producer took, and gives the
// SSRC to each of them: a producer made on the wrong transport never matches
// a packet (SSRC tables are per transport), so a rare tie costs an idle
// producer, never misrouted audio. One pass per worker at a time; warnings
// arriving meanwhile queue their SSRCs for the next pass.
import * as mediasoup from 'mediasoup';
import type { Logger } from '../util/logger.ts';

const NO_PRODUCER = /\[pid:(\d+)\].*no suitable Producer for received RTP packet \[ssrc:(\d+), payloadType:(\d+)\]/;

/** What discovery needs from a leg. */
export interface DiscoverableLeg {
  readonly isClosed: boolean;
  /** Bytes the leg's transport received that no producer took; null when it has no transport. */
  unroutedBytes(): Promise<number | null>;
  lastUnrouted: number;
  discoveredSsrc(ssrc: number, firstPt?: number): Promise<void>;
}

interface WorkerState {
  legs: Set<DiscoverableLeg>;
  /** SSRC → payload type of the packet that revealed it. */
  queued: Map<number, number>;
  running: boolean;
}

export class SsrcDiscovery {
  private readonly workers = new Map<number, WorkerState>();
  private installed = false;

  constructor(private readonly log: Logger) {}

  /** Routes mediasoup's log events: discovery reads the 'rtp' warnings, pino gets the rest. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    const log = this.log.child({ component: 'mediasoup' });
    mediasoup.setLogEventListeners({
      ondebug: () => {},
      onwarn: (namespace: string, message: string) => {
        if (!this.onWarn(message)) log.warn({ namespace }, message);
      },
      onerror: (namespace: string, message: string, error?: Error) => log.error({ namespace, err: error }, message),
    });
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    mediasoup.setLogEventListeners(undefined);
  }

  track(workerPid: number, leg: DiscoverableLeg): void {
    let w = this.workers.get(workerPid);
    if (!w) {
      w = { legs: new Set(), queued: new Map(), running: false };
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
    const m = NO_PRODUCER.exec(message);
    if (!m) return false;
    const pid = Number(m[1]);
    const ssrc = Number(m[2]);
    const pt = Number(m[3]);
    const w = this.workers.get(pid);
    if (!w || w.legs.size === 0) return true;
    if (!w.queued.has(ssrc)) w.queued.set(ssrc, pt);
    if (!w.running) this.run(pid, w).catch((err: unknown) => this.log.error({ err }, 'ssrc discovery failed'));
    return true;
  }

  private async run(pid: number, w: WorkerState): Promise<void> {
    w.running = true;
    try {
      while (w.queued.size > 0) {
        const ssrcs = [...w.queued];
        w.queued.clear();
        const legs = [...w.legs].filter((l) => !l.isClosed);
        const grew = await Promise.all(
          legs.map(async (l) => {
            const now = await l.unroutedBytes().catch(() => null);
            if (now === null) return false;
            const before = l.lastUnrouted;
            l.lastUnrouted = now;
            return now > before;
          }),
        );
        const candidates = legs.filter((_, i) => grew[i]);
        if (candidates.length > 1) this.log.debug({ pid, ssrcs, candidates: candidates.length }, 'ssrc discovery tie');
        await Promise.all(
          candidates.flatMap((l) => ssrcs.map(([s, pt]) => l.discoveredSsrc(s, pt).catch((err: unknown) => this.log.warn({ err, ssrc: s }, 'producer for discovered SSRC failed')))),
        );
      }
    } finally {
      w.running = false;
      if (w.legs.size === 0) this.workers.delete(pid);
    }
  }
}
