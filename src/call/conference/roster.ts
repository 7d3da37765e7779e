// A conference roster: who is in a room, unique by URI. A leg with a URI that is
// already present is refused unless it joins with a generated identity (a
// trusted leg, hidden from the roster; an application may have many) or
// impersonates another URI (shown under that URI and display name).
import { canonicalUri } from '../../policy/routable-request.ts';
import { randomUUID } from 'node:crypto';
import { TypedEmitter } from '../../util/typed-emitter.ts';

export type IdentityKind = 'normal' | 'generated' | 'impersonated';

export interface RosterEntry {
  legId: string;
  /** The URI the room shows (for a generated identity, the generated URI, never shown). */
  uri: string;
  displayName: string;
  identity: IdentityKind;
  /** For an impersonating leg: who it really is. */
  actualUri?: string;
  callId: string;
  joinedAt: Date;
  muted: boolean;
  talking: boolean;
  /** Its phone holds the call (sendonly, inactive): left out of the room's mix meanwhile. */
  held?: 'sendonly' | 'inactive';
  /** In a cluster: a caller answered on that node, piped into this room (src/cluster/room-pipe.ts). */
  remoteNode?: string;
}

export class RosterConflictError extends Error {
  override name = 'RosterConflictError';
  /** The SIP status a refused join is answered with. */
  readonly status = 486;
}

export type RosterEvents = {
  join: [entry: RosterEntry];
  leave: [entry: RosterEntry, reason: string];
  talking: [entry: RosterEntry, talking: boolean];
  mute: [entry: RosterEntry, muted: boolean];
  /** The leg's phone put the call on hold (sendonly, inactive) or resumed it (null). */
  hold: [entry: RosterEntry, direction: 'sendonly' | 'inactive' | null];
  /** A digit from a leg whose call is no flow's (a dialled-out leg); a caller's are its call's. */
  dtmf: [entry: RosterEntry, digit: string, durationMs: number];
};

export interface JoinRequest {
  legId: string;
  callId: string;
  uri: string;
  displayName?: string;
  identity: 'normal' | 'generated' | 'impersonate';
  as?: { uri: string; displayName?: string };
  remoteNode?: string;
}

export class Roster extends TypedEmitter<RosterEvents> {
  private readonly entries = new Map<string, RosterEntry>();

  constructor(
    readonly room: string,
    private readonly generatedDomain = 'parley.invalid',
  ) {
    super();
  }

  /** The visible participants, in join order: generated identities are left out. */
  get visible(): RosterEntry[] {
    return [...this.entries.values()].filter((e) => e.identity !== 'generated');
  }

  get all(): RosterEntry[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  get(legId: string): RosterEntry | undefined {
    return this.entries.get(legId);
  }

  join(req: JoinRequest): RosterEntry {
    if (this.entries.has(req.legId)) throw new Error(`leg ${req.legId} is already in room ${this.room}`);
    let entry: RosterEntry;
    const base = { legId: req.legId, callId: req.callId, joinedAt: new Date(), muted: false, talking: false, ...(req.remoteNode ? { remoteNode: req.remoteNode } : {}) };
    if (req.identity === 'generated') {
      entry = { ...base, uri: `sip:trusted-${randomUUID()}@${this.generatedDomain}`, displayName: '', identity: 'generated' };
    } else {
      const shown = req.identity === 'impersonate' ? req.as : { uri: req.uri, displayName: req.displayName };
      if (!shown?.uri) throw new Error('an impersonating leg needs the URI it joins as');
      const key = normalize(shown.uri);
      if (this.visible.some((e) => normalize(e.uri) === key)) {
        throw new RosterConflictError(`${shown.uri} is already in room ${this.room}`);
      }
      entry = {
        ...base,
        uri: shown.uri,
        displayName: shown.displayName ?? '',
        identity: req.identity === 'impersonate' ? 'impersonated' : 'normal',
        ...(req.identity === 'impersonate' ? { actualUri: req.uri } : {}),
      };
    }
    this.entries.set(req.legId, entry);
    this.safeEmit('join', entry);
    return entry;
  }

  leave(legId: string, reason = 'left'): void {
    const e = this.entries.get(legId);
    if (!e) return;
    this.entries.delete(legId);
    this.safeEmit('leave', e, reason);
  }

  setTalking(legId: string, talking: boolean): void {
    const e = this.entries.get(legId);
    if (!e || e.talking === talking) return;
    e.talking = talking;
    if (e.identity !== 'generated') this.safeEmit('talking', e, talking);
  }

  /** A digit the leg sent (a leg still in the roster). */
  dtmf(legId: string, digit: string, durationMs: number): void {
    const e = this.entries.get(legId);
    if (e) this.safeEmit('dtmf', e, digit, durationMs);
  }

  setHeld(legId: string, direction: 'sendonly' | 'inactive' | null): void {
    const e = this.entries.get(legId);
    if (!e || (e.held ?? null) === direction) return;
    if (direction) e.held = direction;
    else delete e.held;
    if (e.identity !== 'generated') this.safeEmit('hold', e, direction);
  }

  /** Whether the leg is left out of the mix now: muted, or holding the call. */
  silenced(legId: string): boolean {
    const e = this.entries.get(legId);
    return !!e && (e.muted || e.held !== undefined);
  }

  setMuted(legId: string, muted: boolean): void {
    const e = this.entries.get(legId);
    if (!e || e.muted === muted) return;
    e.muted = muted;
    if (e.identity !== 'generated') this.safeEmit('mute', e, muted);
  }
}

/** URIs compare without parameters, case-insensitively in scheme and host, escapes of unreserved characters decoded (RFC 3261 §19.1.4, simplified). */
function normalize(uri: string): string {
  const bare = canonicalUri(uri.replace(/^<|>$/g, '').split(';')[0]!);
  const at = bare.lastIndexOf('@');
  return at < 0 ? bare.toLowerCase() : bare.slice(0, at).replace(/^sips?:/i, (s) => s.toLowerCase()) + bare.slice(at).toLowerCase();
}
