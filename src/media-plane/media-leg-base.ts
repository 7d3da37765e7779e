// What both kinds of leg share (LocalMediaLeg on the thread that owns its room,
// RemoteMediaLeg as the main thread sees a leg on a media thread): the closed
// guard, the negotiated audio and last local SDP, the hear/speak matrix calls as
// one role change, SIP INFO DTMF and the close announcement. Not a leg by itself.
import { CrossSourceRepeats } from '../dtmf/cross-source-repeats.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import { parseSipInfoDtmf } from '../dtmf/sip-info-dtmf.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { MediaLegCloseReason, MediaLegEvents } from './media-api.ts';
import { MediaClosedError } from './media-errors.ts';
import type { NegotiatedAudio } from './sdp-types.ts';
import type { LegRole } from './thread/protocol.ts';

export abstract class MediaLegBase extends TypedEmitter<MediaLegEvents> {
  readonly id: string;
  protected closed = false;
  protected negotiated: NegotiatedAudio | null = null;
  protected lastLocalSdp = '';
  /** INFO digits (taken here) against the media's (RFC 4733, in-band): one key sent both ways is one digit. */
  private readonly digitRepeats = new CrossSourceRepeats();

  protected constructor(
    id: string,
    protected readonly log: Logger,
  ) {
    super(log);
    this.id = id;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The latest SDP this leg produced (answer or offer). */
  get localSdp(): string {
    return this.lastLocalSdp;
  }

  get media(): Readonly<NegotiatedAudio> | null {
    return this.negotiated;
  }

  /** What a negotiation settled; 'media' tells listeners when it changed. */
  protected setNegotiated(n: NegotiatedAudio | null): void {
    const before = this.negotiated;
    this.negotiated = n;
    if (n !== before) this.safeEmit('media', n);
  }

  /** Not heard by anyone (still heard by recorders' per-leg input). */
  mute(on = true): void {
    this.setRole({ muted: on });
  }

  /** Hears nothing. */
  deafen(on = true): void {
    this.setRole({ deaf: on });
  }

  /** Hidden listener: hears everyone, is heard by no one, left out of the room's mix. */
  hide(on = true): void {
    this.setRole({ hidden: on });
  }

  /** Coach: only the given legs hear this one (null: everyone again). */
  speakTo(legIds: readonly string[] | null): void {
    this.setRole({ audience: legIds ? [...legIds] : null });
  }

  /** In-band (Goertzel) DTMF detection: true always, 'auto' while the leg has no telephone-event, false never. */
  detectInbandDtmf(on: boolean | 'auto'): void {
    this.setRole({ inband: on });
  }

  /** The telephone-event packets (RFC 4733) this leg sends go on to leg `legId` of the room as they come (a bridge's other party); null: Parley only takes the digits. */
  relayDtmfTo(legId: string | null): void {
    this.setRole({ dtmfTo: legId });
  }

  /** A SIP INFO body from call control (application/dtmf-relay or application/dtmf): its digit, null for a hook flash (no digit). Throws DtmfInfoError. */
  handleSipInfo(contentType: string, body: string): DtmfEvent | null {
    this.assertOpen();
    const e = parseSipInfoDtmf(contentType, body);
    if (e) this.emitDigit(e);
    return e;
  }

  /** A digit of this leg from any carrier: its 'dtmf' event, unless another carrier just brought the same key. */
  protected emitDigit(e: DtmfEvent): void {
    if (this.digitRepeats.isRepeat(e)) {
      this.log.debug({ digit: e.digit, source: e.source }, 'dtmf: the same key from another carrier, taken once');
      this.safeEmit('dtmfrepeat', e);
      return;
    }
    this.safeEmit('dtmf', e);
  }

  /** The leg's place in the hear/speak matrix changes (throws MediaClosedError on a closed leg). */
  protected abstract setRole(change: LegRole): void;

  /** The last step of close(): the one 'close' event, then no listener is kept. */
  protected announceClose(reason: MediaLegCloseReason): void {
    this.log.debug({ reason }, 'leg closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  protected assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`leg ${this.id} is closed`);
  }
}
