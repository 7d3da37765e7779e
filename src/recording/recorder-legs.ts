// A Recorder's legs: their sidecar entries (joins, leaves, stems) and which one is
// the caller (stereo left: the first leg with role 'caller', else the first to join).
// A leg that leaves and comes back keeps its entry and starts a new stem.
import { applyLegInfo, type HoldDirection, type LegEntry, type LegInfo, type RecordingMetadata, type TimePoint } from './metadata.ts';
import type { Stems } from './stems.ts';

interface LegState {
  entry: LegEntry;
  /** In the room now (between a join and a leave). */
  present: boolean;
}

export class RecorderLegs {
  private readonly legs = new Map<string, LegState>();
  private callerId: string | null = null;

  constructor(
    private readonly meta: RecordingMetadata,
    private readonly stems: Stems,
  ) {}

  /** The caller's leg id (stereo left), or null before any leg joined. */
  get caller(): string | null {
    return this.callerId;
  }

  has(legId: string): boolean {
    return this.legs.has(legId);
  }

  /** The stereo side a leg was given ('auto' when not said, or unknown). */
  side(legId: string): LegEntry['stereo'] | 'auto' {
    return this.legs.get(legId)?.entry.stereo ?? 'auto';
  }

  /**
   * A leg joins at `at()` (its stem starts): returns that time. A present leg's details
   * are updated instead when `explicit` (addLeg, not an implicit join from a tick): null.
   */
  join(legId: string, info: LegInfo, explicit: boolean, at: () => TimePoint): TimePoint | null {
    const known = this.legs.get(legId);
    if (known?.present) {
      if (explicit) this.update(legId, info);
      return null;
    }
    const when = at();
    const entry: LegEntry = known?.entry ?? {
      id: legId,
      uri: null,
      displayName: null,
      identity: 'normal',
      callId: null,
      originalTo: null,
      role: 'other',
      joins: [],
      leaves: [],
      stems: [],
      holds: [],
    };
    applyLegInfo(entry, info);
    this.stems.start(entry, when);
    entry.joins.push(when);
    if (!known) this.meta.legs.push(entry);
    this.legs.set(legId, { entry, present: true });
    this.pickCaller();
    return when;
  }

  update(legId: string, info: LegInfo): void {
    const leg = this.legs.get(legId);
    if (!leg) return;
    applyLegInfo(leg.entry, info);
    this.pickCaller();
  }

  /** A present leg leaves at `at()`: its stem ends once its tail played out (Stems.leave); returns that time (null when it was not present). */
  leave(legId: string, at: () => TimePoint): TimePoint | null {
    const leg = this.legs.get(legId);
    if (!leg?.present) return null;
    const when = at();
    this.stems.leave(legId);
    leg.present = false;
    leg.entry.leaves.push(when);
    return when;
  }

  /**
   * A known leg goes on hold (`direction`) or comes off it (null) at `at()`: an open hold
   * ends there, and a new one starts unless `direction` is null. Returns that time, or
   * null when nothing changed (the same hold again, no hold to end, an unknown leg).
   */
  hold(legId: string, direction: HoldDirection | null, at: () => TimePoint): TimePoint | null {
    const leg = this.legs.get(legId);
    if (!leg) return null;
    const holds = (leg.entry.holds ??= []);
    const open = holds.at(-1)?.end === null ? holds.at(-1)! : null;
    if ((open?.direction ?? null) === direction) return null;
    const when = at();
    if (open) open.end = when;
    if (direction) holds.push({ direction, start: when, end: null });
    return when;
  }

  private pickCaller(): void {
    const legs = this.meta.legs;
    this.callerId = (legs.find((l) => l.role === 'caller') ?? legs[0])?.id ?? null;
    if (this.meta.stereo) this.meta.stereo.left = this.callerId;
  }
}
