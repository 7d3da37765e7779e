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

/** Streams kept at most (a conference recorded stream by stream). */
const MAX_STREAMS = 32;

export interface StreamChange {
  index: number;
  paused: boolean;
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
   * state changed. Throws SdpNegotiationError (488) when nothing at all can be recorded.
   */
  async apply(sdp: string): Promise<StreamChange[]> {
    const offered = splitOffer(sdp).slice(0, MAX_STREAMS);
    if (offered.length === 0) throw new SdpNegotiationError('no m-line in the offer', 304);
    const changes: StreamChange[] = [];
    for (const o of offered) {
      let slot = this.slots[o.index];
      const wasPaused = slot ? slot.paused : false;
      if (!slot) {
        slot = { offered: o, leg: null, section: [], refused: null, paused: o.paused };
        this.slots.push(slot);
      }
      slot.offered = o;
      slot.paused = o.paused;
      await this.applyStream(slot, o);
      if (slot.leg && wasPaused !== o.paused) changes.push({ index: o.index, paused: o.paused });
    }
    if (!this.slots.some((s) => s.leg)) {
      const why = this.slots.map((s) => s.refused).find((r) => r) ?? 'no recordable stream';
      throw new SdpNegotiationError(`nothing to record: ${why}`, 304);
    }
    const body = buildSiprecAnswer({ sessionId: this.sessionId, version: this.version, ip: this.ip }, this.slots.map((s) => s.section));
    // RFC 3264 §8: the version changes only when the SDP does.
    if (this.body !== '' && body !== this.body) this.version++;
    this.body = body;
    this.current = buildSiprecAnswer({ sessionId: this.sessionId, version: this.version, ip: this.ip }, this.slots.map((s) => s.section));
    return changes;
  }

  private async applyStream(slot: Slot, o: OfferedStream): Promise<void> {
    if (!o.recordable) {
      if (slot.leg) {
        this.log.info({ stream: o.index, leg: slot.leg.id }, 'siprec: stream removed by the SRC (port 0)');
        slot.leg.close();
        slot.leg = null;
      }
      slot.refused = o.port === 0 ? 'port 0 in the offer' : `cannot record ${o.kind} over ${o.proto}`;
      slot.section = rejectedSection(o);
      return;
    }
    try {
      if (slot.leg && !slot.leg.isClosed) {
        slot.section = answerSection(await slot.leg.applyOffer(o.sdp), o.label);
      } else {
        const { leg, answer } = await this.room.createLeg(o.sdp, { id: `s${o.index}` });
        // It hears nothing: the SRC is sent nothing (recvonly), and no mix-minus is made for it.
        leg.deafen();
        slot.leg = leg;
        this.ip = answerIp(answer);
        slot.section = answerSection(answer, o.label);
        this.log.info({ stream: o.index, leg: leg.id, label: o.label, paused: o.paused }, 'siprec: stream recorded');
      }
      slot.refused = null;
    } catch (err) {
      if (!(err instanceof SdpNegotiationError)) throw err;
      this.log.warn({ stream: o.index, err: err.message }, 'siprec: stream cannot be recorded; answered with port 0');
      if (slot.leg) {
        // A re-offer the leg refused: it keeps what it had.
        return;
      }
      slot.refused = err.message;
      slot.section = rejectedSection(o);
    }
  }
}
