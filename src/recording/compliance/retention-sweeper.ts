// Deletes expired recordings on a timer (recording.retention.sweepIntervalSec):
// finalized, not on hold, and past their retention (the sidecar's, else
// recording.retention.days). One recording at a time, each through the compliance
// service's delete (audit entry with the hashes of what goes, then the files).
import type { Logger } from '../../util/logger.ts';
import type { IndexEntry } from './index-entry.ts';
import { expiresAt } from './retention-policy.ts';

export interface SweepTarget {
  readonly entries: readonly IndexEntry[];
  isHeld(id: string): boolean;
  delete(id: string, actor: string, details: Record<string, unknown>): Promise<boolean>;
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<string[]> | null = null;
  private closed = false;

  constructor(
    private readonly target: SweepTarget,
    private readonly defaultDays: number | null,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Sweeps now, then every interval (0: never on its own). */
  start(): void {
    if (this.intervalMs <= 0 || this.closed) return;
    const tick = (): void => {
      this.timer = null;
      this.sweep()
        .catch((err: unknown) => this.log.error({ err }, 'retention sweep failed'))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  /** The recordings that are due now (not held). */
  due(now = Date.now()): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const e of this.target.entries) {
      if (e.state !== 'finalized' || this.target.isHeld(e.id)) continue;
      const at = expiresAt(e.end ?? e.start, e.days ?? this.defaultDays);
      if (at !== null && at <= now) out.push(e);
    }
    return out;
  }

  /** Deletes what is due; resolves with the ids deleted. A sweep already running is joined. */
  sweep(now = Date.now()): Promise<string[]> {
    this.running ??= (async () => {
      const deleted: string[] = [];
      for (const e of this.due(now)) {
        if (this.closed) break;
        const days = e.days ?? this.defaultDays;
        const ok = await this.target.delete(e.id, 'retention', { reason: 'retention', retentionDays: days, endedAt: new Date(e.end ?? e.start).toISOString() }).catch((err: unknown) => {
          this.log.error({ err, recording: e.id }, 'retention: delete failed');
          return false;
        });
        if (ok) deleted.push(e.id);
      }
      if (deleted.length > 0) this.log.info({ deleted: deleted.length }, 'retention: expired recordings deleted');
      return deleted;
    })().finally(() => (this.running = null));
    return this.running;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
