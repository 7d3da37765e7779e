// Holds: when a leg's peer puts the call on hold (its re-INVITE or UPDATE offers
// sendonly, inactive or c=0.0.0.0), and passing a hold on to the other party of a
// two-party bridge with a re-INVITE of Parley's own (calls.holdPropagation: reinvite),
// as an SBC or Lync's B2BUA does, so the other phone shows it is held.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-api.ts';
import type { Direction, NegotiatedAudio } from '../media-plane/sdp-types.ts';
import type { HoldDirection } from '../recording/metadata.ts';
import type { Logger } from '../util/logger.ts';

export type { HoldDirection };

/**
 * The hold a peer's offer put the leg in, read from the direction the leg answered with
 * (RFC 3264 §6.1, §8.4): recvonly (the peer offered sendonly, or sendrecv on c=0.0.0.0) is a
 * `sendonly` hold, inactive an `inactive` one; anything else is no hold. Read it after
 * applying the peer's offer, not an answer to ours (Parley's own hold offer is answered
 * recvonly or inactive by a peer that is not holding).
 */
export function peerHold(media: Readonly<NegotiatedAudio> | null): HoldDirection | null {
  if (media?.direction === 'recvonly') return 'sendonly';
  if (media?.direction === 'inactive') return 'inactive';
  return null;
}

/**
 * The holds of one call's legs (SipCall.holds), as their peers' last offers said; `changed`
 * runs once per change (the call logs it, marks it in its recording and emits 'hold').
 */
export class LegHolds {
  private readonly held = new Map<string, HoldDirection>();
  /** Parley's own re-INVITE to the caller is out (a hold passed on): the caller's offers get 491 meanwhile. */
  readonly callerOutgoing: OutgoingOffer = { pending: false };

  constructor(private readonly changed: (legId: string, direction: HoldDirection | null) => void) {}

  /** A leg's peer put it on hold (`direction`) or took it off (null). */
  note(legId: string, direction: HoldDirection | null): void {
    if ((this.held.get(legId) ?? null) === direction) return;
    if (direction) this.held.set(legId, direction);
    else this.held.delete(legId);
    this.changed(legId, direction);
  }

  /** A leg left: its hold is forgotten (a later leg of that id starts unheld). No change reported. */
  forget(legId: string): void {
    this.held.delete(legId);
  }

  /** How a leg holds now (null: not on hold). */
  of(legId: string): HoldDirection | null {
    return this.held.get(legId) ?? null;
  }

  /** The legs on hold now, and how. */
  [Symbol.iterator](): IterableIterator<[string, HoldDirection]> {
    return this.held.entries();
  }
}

/** Shared by a dialog's propagator and its answerReoffers: Parley's re-INVITE is in progress (a peer's offer meanwhile gets 491, RFC 3261 §14.2). */
export interface OutgoingOffer {
  pending: boolean;
}

export interface HoldPropagatorOptions {
  /** Parley made the dialog's Call-ID (the B leg): a 491 is retried after 2.1–4 s, else after 0–2 s (RFC 3261 §14.1). */
  ownsCallId: boolean;
  /** Shared with the dialog's answerReoffers. */
  outgoing: OutgoingOffer;
  /** 481 or 408 to our re-INVITE: the dialog is gone (RFC 3261 §12.2.1.2); the call ends with this Reason. */
  onEnd: (reason: string, why: string) => void;
  /** Test hook: the 491 retry delay in ms (default: RFC 3261 §14.1's random one). */
  retryMs?: () => number;
}

/**
 * Offers the peer of one dialog the direction the other party's hold asks for: sendonly
 * while that party holds with sendonly (Parley goes on sending it what the holder sends,
 * music on hold), inactive while it holds inactive, sendrecv again on resume. One re-INVITE
 * at a time; a change while one is out (a peer whose answer comes late) is sent once it is
 * answered, and only the latest wish is sent. A 491 is retried after RFC 3261 §14.1's
 * delay; a peer that refuses (488, any other 4xx–6xx) is logged and the call goes on as it
 * was, the leg untouched; 481 or 408 ends the call.
 */
export class HoldPropagator {
  private want: Direction = 'sendrecv';
  /** What the peer last took (or refused: not offered again until the wish changes). */
  private settled: Direction = 'sendrecv';
  private running = false;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly dialog: Srf.Dialog,
    private readonly leg: MediaLeg,
    private readonly log: Logger,
    private readonly opts: HoldPropagatorOptions,
  ) {}

  /** The other party's hold (null: none): what this peer should be offered. */
  set(hold: HoldDirection | null): void {
    this.want = hold ?? 'sendrecv';
    this.kick();
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private kick(): void {
    if (this.running || this.closed || this.retry || this.want === this.settled) return;
    if (this.leg.isClosed || (this.dialog as { connected?: boolean }).connected === false) return;
    this.running = true;
    this.offer(this.want)
      .catch((err: unknown) => this.log.warn({ err }, 'hold re-INVITE failed'))
      .finally(() => {
        this.running = false;
        this.kick();
      });
  }

  private async offer(direction: Direction): Promise<void> {
    const sdp = await this.leg.makeReoffer(direction);
    if (this.closed || this.leg.isClosed) return;
    this.log.info({ direction }, 'passing the hold on: re-INVITE');
    this.opts.outgoing.pending = true;
    let res: Srf.SrfResponse;
    try {
      res = await this.reinvite(sdp);
    } finally {
      this.opts.outgoing.pending = false;
    }
    if (this.closed || this.leg.isClosed) return;
    const status = res.status;
    if (status >= 200 && status < 300) {
      this.settled = direction;
      this.dialog.local.sdp = sdp;
      this.dialog.remote.sdp = res.body ?? '';
      try {
        await this.leg.applyAnswer(res.body ?? '');
        this.log.info({ direction, answered: this.leg.media?.direction }, 'the hold re-INVITE was answered');
      } catch (err) {
        this.log.warn({ err, direction }, 'the answer to the hold re-INVITE cannot be used; the media stays as it was');
      }
      return;
    }
    if (status === 491) {
      // RFC 3261 §14.1: the owner of the Call-ID waits 2.1–4 s, the other side 0–2 s (10 ms units).
      const ms = this.opts.retryMs?.() ?? (this.opts.ownsCallId ? 2100 + 10 * Math.floor(Math.random() * 191) : 10 * Math.floor(Math.random() * 201));
      this.log.info({ direction, retryMs: ms }, 'hold re-INVITE met glare (491): trying again');
      this.retry = setTimeout(() => {
        this.retry = null;
        this.kick();
      }, ms);
      return;
    }
    if (status === 481 || status === 408) {
      const text = status === 481 ? 'Call/Transaction Does Not Exist' : 'Request Timeout';
      this.opts.onEnd(`SIP;cause=${status};text="${text}"`, `the hold re-INVITE got ${status}: the dialog is gone`);
      return;
    }
    // 488 and the like: the peer keeps the session as it was (RFC 3261 §14.1); so does the call.
    this.settled = direction;
    this.log.warn({ direction, status, reason: res.reason }, 'the peer refused the hold re-INVITE; the call goes on as it was');
  }

  /** Sends the re-INVITE and resolves with its final response (1xx skipped; drachtio-srf ACKs it). */
  private reinvite(sdp: string): Promise<Srf.SrfResponse> {
    return new Promise((resolve, reject) => {
      let done = false;
      const contact = (this.dialog.local as { contact?: string }).contact;
      // Not Dialog.modify: after a non-2xx it never admits another re-INVITE on the dialog (drachtio-srf 5).
      this.dialog.request(
        {
          method: 'INVITE',
          body: sdp,
          headers: { 'Content-Type': 'application/sdp', ...(contact ? { Contact: contact } : {}) },
        } as unknown as Srf.SrfRequest,
        ((err: unknown, res?: Srf.SrfResponse) => {
          if (done) return;
          if (err) {
            done = true;
            reject(err as Error);
            return;
          }
          if (!res || res.status < 200) return;
          done = true;
          resolve(res);
        }) as never,
      );
    });
  }
}
