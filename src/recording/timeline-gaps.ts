// Ticks a room never handed to its recorder (its media thread stalled past the clock's
// catch-up, or a full ring dropped them) are written as silence so the files keep the
// room's timeline (Recorder.writeTick). Those silences are Parley's, not the call's, and
// a reviewer must be able to tell them apart: each gap is noted in the sidecar's `gaps`
// (signed with it): how many, how long in all, and the first MAX_LISTED with where each
// falls in the mixed file. The log gets the first gap of a recording, then at most one
// line per LOG_EVERY_MS with what came since, and the rest at close: a stall of the whole
// process gaps every open recording at once, and one line per gap per recording (hundreds
// a second on an overloaded machine) made the overload worse.
import { FRAME_MS } from '../mixer/frames.ts';
import type { Logger } from '../util/logger.ts';
import type { RecordingMetadata } from './metadata.ts';

/** The longest run of missing ticks filled with silence (a longer jump is not the room's clock moving on). */
export const MAX_GAP_FRAMES = 30_000 / FRAME_MS;
/** Gaps listed one by one in the sidecar; past it, only counted. */
export const MAX_LISTED = 50;
/** At most one log line per recording this often (the first gap is logged at once). */
export const LOG_EVERY_MS = 10_000;

export interface GapEntry {
  /** Where the gap starts in the mixed file (ms). */
  fileMs: number;
  missingMs: number;
  /** Written as silence (false: too long to be the clock moving on; nothing written). */
  filled: boolean;
  at: string;
}

export interface GapsEntry {
  count: number;
  missingMs: number;
  list: GapEntry[];
}

export class TimelineGaps {
  private lastLogMs = Number.NEGATIVE_INFINITY;
  private unlogged = 0;
  private unloggedMs = 0;
  /** Of the unlogged gaps, those too long to fill. */
  private unloggedUnfilled = 0;

  constructor(
    private readonly meta: RecordingMetadata,
    private readonly log: Logger,
    private readonly id: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A gap of `missingMs` before the tick written next, at `fileMs` into the mixed file. */
  note(missingMs: number, filled: boolean, fileMs: number): void {
    const g = (this.meta.gaps ??= { count: 0, missingMs: 0, list: [] });
    g.count++;
    g.missingMs += missingMs;
    if (g.list.length < MAX_LISTED) g.list.push({ fileMs, missingMs, filled, at: new Date().toISOString() });
    this.unlogged++;
    this.unloggedMs += missingMs;
    if (!filled) this.unloggedUnfilled++;
    const t = this.now();
    if (!filled || t - this.lastLogMs >= LOG_EVERY_MS) this.report(t);
  }

  /** The recording closes: the gaps not logged yet are. */
  close(): void {
    if (this.unlogged > 0) this.report(this.now());
  }

  private report(t: number): void {
    const g = this.meta.gaps!;
    this.log.warn(
      { recording: this.id, gaps: this.unlogged, missingMs: this.unloggedMs, notFilled: this.unloggedUnfilled, totalGaps: g.count, totalMissingMs: g.missingMs },
      'ticks missing from the room: silence written in their place',
    );
    this.lastLogMs = t;
    this.unlogged = 0;
    this.unloggedMs = 0;
    this.unloggedUnfilled = 0;
  }
}
