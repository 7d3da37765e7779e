// The media of a SIPREC session: one receive-only leg per recordable m-line of the
// SRC's offer, in the session's own room, and the answer put back together from
// the legs' answers (src/siprec/siprec-sdp.ts). Re-offers go to each stream's leg;
// a stream added by a re-offer gets a new leg; a stream set to port 0 loses its leg.
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import { answerIp, answerSection, buildSiprecAnswer, rejectedSection, splitOffer, type OfferedStream } from '../siprec/siprec-sdp.ts';
import type { Logger } from '../util/logger.ts';
import type { StreamSlot } from './siprec-view.ts';

interface Slot {
  offered: OfferedStream;
  leg: MediaLeg | null;
  section: string[];
  refused: string | null;
  paused: boolean;
}

/** siprec.maxStreams's default: streams kept at most (a conference recorded stream by stream). */
export const DEFAULT_MAX_STREAMS = 32;
/** siprec.jitterMs's default. */
export const DEFAULT_JITTER_MS = 1000;

export interface StreamChange {
  index: number;
  paused: boolean;
}

/** What one stream of an offer becomes, before it is committed. */
interface Planned {
  o: OfferedStream;
  /** A leg created for this offer (a new stream): closed if the offer is rolled back. */
  created: MediaLeg | null;
  /** An existing leg that took the new offer: given its previous offer back on a rollback. */
  reoffered: { leg: MediaLeg; previous: string } | null;
  section: string[];
  refused: string | null;
  /** The leg this stream keeps after the commit (null: none). */
  leg: MediaLeg | null;
}

export class SiprecStreams {
  private readonly slots: Slot[] = [];
  private readonly sessionId = String(Math.floor(Math.random() * 1e9) + 1);
  private version = 1;
  private current = '';
  private body = '';
  private ip = '127.0.0.1';

  constructor(
    private readonly room: MediaRoom,
    private readonly log: Logger,
    private readonly maxStreams = DEFAULT_MAX_STREAMS,
    /** siprec.jitterMs: each stream's leg is record-only with a jitter buffer this deep. */
    private readonly jitterMs = DEFAULT_JITTER_MS,
  ) {}

  /** The answer to the last offer. */
  get answer(): string {
    return this.current;
  }

  get legs(): MediaLeg[] {
    return this.slots.flatMap((s) => (s.leg && !s.leg.isClosed ? [s.leg] : []));
  }

  /** Every recorded stream is paused by the SRC. */
  get allPaused(): boolean {
    const live = this.slots.filter((s) => s.leg);
    return live.length > 0 && live.every((s) => s.paused);
  }

  get slotsForView(): StreamSlot[] {
    return this.slots.map((s, index) => ({
      index,
      leg: s.leg?.id ?? null,
      label: s.offered.label,
      kind: s.offered.kind,
      ...(s.refused ? { refused: s.refused } : {}),
    }));
  }

  /**
   * Takes an offer (the INVITE's or a re-offer's) and returns the streams whose pause
   * state changed. The first offer records what it can (a stream Parley cannot record is
   * answered with port 0); a re-offer is all or nothing (RFC 3261 §14.2: a failed
   * re-INVITE leaves the session as it was): when a recorded stream or a new one cannot
   * take it (no common codec, no port left, a new stream that fails), the streams it
   * already changed get their previous offer back, the legs it created are closed, and
   * it throws (SdpNegotiationError: 488). Nothing is closed before every stream took the offer.
   */
  async apply(sdp: string): Promise<StreamChange[]> {
    const offered = splitOffer(sdp);
    if (offered.length === 0) throw new SdpNegotiationError('no m-line in the offer', 304);
    const reoffer = this.body !== '';
    // RFC 3264 §8: a new offer keeps every m-line of the previous one (a stream is removed
    // by port 0, never by leaving its line out); an answer must have as many m-lines as its
    // offer, so such an offer cannot be answered: refused before anything changes.
    if (reoffer && offered.length < this.slots.length) {
      throw new SdpNegotiationError(`the re-offer has ${offered.length} m-lines, fewer than the ${this.slots.length} of the session (RFC 3264 §8)`, 399);
    }
    const plans: Planned[] = [];
    try {
      for (const o of offered) plans.push(await this.plan(this.slots[o.index], o, reoffer));
      if (!plans.some((p) => p.leg) && !this.slots.slice(plans.length).some((s) => s.leg)) {
        const why = plans.map((p) => p.refused).find((r) => r) ?? 'no recordable stream';
        throw new SdpNegotiationError(`nothing to record: ${why}`, 304);
      }
    } catch (err) {
      await this.rollback(plans);
      throw err;
    }
    return this.commit(plans);
  }

  /** Phase one: what this stream becomes; the only changes are a new leg or a re-offered one, both undone by rollback(). */
  private async plan(slot: Slot | undefined, o: OfferedStream, reoffer: boolean): Promise<Planned> {
    const leg = slot?.leg && !slot.leg.isClosed ? slot.leg : null;
    if (!o.recordable || o.index >= this.maxStreams) {
      // Beyond siprec.maxStreams a stream is refused like one Parley cannot record (RFC 3264 §6: port 0, the m-line kept).
      const refused = o.index >= this.maxStreams ? `more than siprec.maxStreams (${this.maxStreams}) streams` : o.port === 0 ? 'port 0 in the offer' : `cannot record ${o.kind} over ${o.proto}`;
      return { o, created: null, reoffered: null, section: rejectedSection(o), refused, leg: null };
    }
    try {
      if (leg) {
        const answer = await leg.applyOffer(o.sdp);
        return { o, created: null, reoffered: { leg, previous: slot!.offered.sdp }, section: answerSection(answer, o.label), refused: null, leg };
      }
      const { leg: created, answer } = await this.room.createLeg(o.sdp, { id: `s${o.index}`, recordOnlyMs: this.jitterMs });
      // It hears nothing: the SRC is sent nothing (recvonly), and no mix-minus is made for it.
      created.deafen();
      this.ip = answerIp(answer);
      return { o, created, reoffered: null, section: answerSection(answer, o.label), refused: null, leg: created };
    } catch (err) {
      // A stream refused before (its slot has no leg) may stay refused: a session refresh repeats it.
      if (reoffer && (!slot || leg)) {
        this.log.warn({ stream: o.index, err: (err as Error).message }, 'siprec: a stream cannot take the re-offer; the re-offer is refused');
        if (err instanceof SdpNegotiationError) throw new SdpNegotiationError(`stream ${o.index + 1}: ${err.message}`, err.warning);
        throw err;
      }
      if (!(err instanceof SdpNegotiationError)) throw err;
      this.log.warn({ stream: o.index, err: err.message }, 'siprec: stream cannot be recorded; answered with port 0');
      return { o, created: null, reoffered: null, section: rejectedSection(o), refused: err.message, leg: null };
    }
  }

  /** Undoes phase one: new legs closed, re-offered legs given their previous offer back. */
  private async rollback(plans: Planned[]): Promise<void> {
    for (const p of plans) {
      if (p.created) p.created.close();
      if (!p.reoffered || p.reoffered.leg.isClosed) continue;
      try {
        await p.reoffered.leg.applyOffer(p.reoffered.previous);
      } catch (err) {
        this.log.error({ stream: p.o.index, err }, 'siprec: a stream could not be given its previous offer back');
      }
    }
  }

  /** Phase two: the slots take the plans, streams set to port 0 lose their legs, the answer is built. */
  private commit(plans: Planned[]): StreamChange[] {
    const changes: StreamChange[] = [];
    for (const p of plans) {
      let slot = this.slots[p.o.index];
      const wasPaused = slot ? slot.paused : false;
      if (!slot) {
        slot = { offered: p.o, leg: null, section: [], refused: null, paused: p.o.paused };
        this.slots.push(slot);
      }
      if (slot.leg && slot.leg !== p.leg) {
        this.log.info({ stream: p.o.index, leg: slot.leg.id }, 'siprec: stream removed by the SRC (port 0)');
        slot.leg.close();
      }
      if (p.created) this.log.info({ stream: p.o.index, leg: p.created.id, label: p.o.label, paused: p.o.paused }, 'siprec: stream recorded');
      slot.leg = p.leg;
      slot.offered = p.o;
      slot.paused = p.o.paused;
      slot.section = p.section;
      slot.refused = p.refused;
      if (slot.leg && wasPaused !== p.o.paused) changes.push({ index: p.o.index, paused: p.o.paused });
    }
    const body = buildSiprecAnswer({ sessionId: this.sessionId, version: this.version, ip: this.ip }, this.slots.map((s) => s.section));
    // RFC 3264 §8: the version changes only when the SDP does.
    if (this.body !== '' && body !== this.body) this.version++;
    this.body = body;
    this.current = buildSiprecAnswer({ sessionId: this.sessionId, version: this.version, ip: this.ip }, this.slots.map((s) => s.section));
    return changes;
  }
}
