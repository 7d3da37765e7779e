// The media timeout of a pipe (room-pipe.ts), on each of its two ends: RTP
// received on the pipe's transport, asked of mediasoup (PipeTransport stats,
// rtpBytesReceived) every second or half the timeout. A pipe carries RTP every
// 20 ms whatever is said: the caller's node sends its call room's mix, encoded
// each tick (HubPublisher.writeTick, Opus without DTX), the owner the caller's
// mix-minus, encoded each tick too, in a forwarded two-party room as well (the
// forwarder sends encoded silence while a leg is quiet: two-party-forwarder.ts);
// a room where everyone is silent or on hold keeps its pipes. So packets are
// counted, not levels: nothing received for media.rtpTimeoutSec means the other
// side's RTP is lost (a firewall, its media thread or worker gone) while its
// node, which still answers, does not know. SIP legs have their own watch, in
// the room (media-room.ts checkMedia); a pipe is no leg of a media room.
import { performance } from 'node:perf_hooks';
import type { types as ms } from 'mediasoup';
import type { Logger } from '../util/logger.ts';

/** Why a pipe ends when its RTP stopped (the caller's BYE then carries MEDIA_TIMEOUT_REASON). */
export const PIPE_MEDIA_TIMEOUT = 'media timeout';

export class PipeMediaWatch {
  private timer: NodeJS.Timeout | null = null;
  private lastBytes = -1;
  private lastTrafficMs = performance.now();
  private asking = false;

  /**
   * Watches `transport` from now on (timeoutMs 0: never); `onTimeout` is called at most once, with
   * the silence in seconds. The watch stops by itself when the transport closes.
   */
  constructor(
    private readonly transport: ms.PipeTransport,
    private readonly timeoutMs: number,
    private readonly onTimeout: (seconds: number) => void,
    private readonly log: Logger,
  ) {
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => this.check(), Math.min(1000, timeoutMs / 2));
    this.timer.unref();
    transport.observer.once('close', () => this.stop());
  }

  /** Synchronous, idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    if (this.asking || this.timer === null || this.transport.closed) return;
    this.asking = true;
    this.transport
      .getStats()
      .then((stats) => {
        if (this.timer === null) return;
        const bytes = stats.reduce((n, s) => n + s.rtpBytesReceived, 0);
        const now = performance.now();
        if (bytes !== this.lastBytes) {
          this.lastBytes = bytes;
          this.lastTrafficMs = now;
        } else if (now - this.lastTrafficMs >= this.timeoutMs) {
          this.stop();
          this.onTimeout(Math.round((now - this.lastTrafficMs) / 1000));
        }
      })
      .catch((err: unknown) => this.log.debug({ err }, 'pipe stats not read'))
      .finally(() => {
        this.asking = false;
      });
  }
}
