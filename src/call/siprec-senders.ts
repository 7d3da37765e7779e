// Who sends each stream of a SIPREC session, over the metadata versions (RFC 7865's
// participantstreamassoc): those sending it now, and before them, with times, those who
// sent it earlier (a transfer's new party follows the one it replaced). And the stereo
// file's two sides, each held by the first sender of a recorded stream for as long as it
// sends one: a transfer's new party takes the side of the one it replaced, the other party
// keeps its own.
import type { SiprecStreamSender } from '../recording/siprec-sidecar.ts';

/** What the bookkeeping needs of a participant. */
export interface Sender {
  key: string;
  leftAt: string | null;
  /** Metadata stream ids (or labels) it sends: now, or, once it left, when it left. */
  sendIds: string[];
}

/** Entries of a stream's `senders` kept at most: past it the oldest ended ones are dropped. */
export const MAX_SENDER_ENTRIES = 50;

export type Side = 'left' | 'right';

/**
 * The keys of those sending a stream now: `listing` (the participants whose sends name the
 * stream, in metadata order) that are still there; when none is, those that sent it last and
 * still list it (one that left without a successor keeps its stream), else all that list it. `history` (the
 * stream's `senders`, by participant key) is brought up to date at `at`. `dropped`: old
 * entries were dropped past MAX_SENDER_ENTRIES.
 */
export function currentSenders(listing: Sender[], history: SiprecStreamSender[], at: string): { keys: string[]; dropped: boolean } {
  const open = history.filter((h) => h.to === null);
  let keys = listing.filter((p) => p.leftAt === null).map((p) => p.key);
  if (keys.length === 0) keys = open.map((h) => h.participant!).filter((k) => listing.some((p) => p.key === k));
  // Never seen sending it (it was named and gone in one version): those that left listing it.
  if (keys.length === 0) keys = listing.map((p) => p.key);
  for (const h of open) if (!keys.includes(h.participant!)) h.to = at;
  for (const k of keys) if (!open.some((h) => h.participant === k)) history.push({ participant: k, from: at, to: null });
  let dropped = false;
  while (history.length > MAX_SENDER_ENTRIES) {
    const i = history.findIndex((h) => h.to !== null);
    if (i < 0) break;
    history.splice(i, 1);
    dropped = true;
  }
  return { keys, dropped };
}

/** The stereo file's left and right: which participant (key) holds each. */
export class StereoSides {
  private readonly held: [string | null, string | null] = [null, null];

  /**
   * `primaries`: the first sender of each recorded stream, in metadata order. A holder that
   * is no longer one frees its side; the others take the free sides in order (left first).
   */
  update(primaries: string[]): void {
    for (let i = 0; i < 2; i++) if (this.held[i] !== null && !primaries.includes(this.held[i]!)) this.held[i] = null;
    for (const k of primaries) {
      if (this.held.includes(k)) continue;
      const free = this.held.indexOf(null);
      if (free < 0) break;
      this.held[free] = k;
    }
  }

  of(key: string | null | undefined): Side | null {
    const i = key == null ? -1 : this.held.indexOf(key);
    return i === 0 ? 'left' : i === 1 ? 'right' : null;
  }

  /** The key of the participant holding `side`, or null. */
  holder(side: Side): string | null {
    return this.held[side === 'left' ? 0 : 1];
  }

  /** Some participant holds a side (else the streams are placed by their order). */
  get any(): boolean {
    return this.held.some((k) => k !== null);
  }
}
