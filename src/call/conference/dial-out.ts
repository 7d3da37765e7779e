// A leg Parley dials out into a conference room (control API): a UAC to `to`
// whose media leg lives in the room itself. Joins the roster before dialling (a
// URI already present is refused at once), leaves it when either side ends the
// leg, and rings at most `ringTimeout` seconds.
import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../../media-plane/media-leg.ts';
import type { Logger } from '../../util/logger.ts';
import type { EarlyLegs } from '../call-deps.ts';
import { ackWaitMs, answerReoffers, cancelInvite, destroyDialog, refuseRefer, refuseRefers } from '../dialog-util.ts';
import { deferRefer, EARLY_DIALOG_WARNING } from '../refer-request.ts';
import { createUac, type HeldDialog } from '../held-dialog.ts';
import { DialWait } from '../dial-wait.ts';
import { dialFollowingRedirects } from '../redirect-target.ts';
import { peerHold } from '../hold.ts';
import { MEDIA_THREAD_FAILED_REASON, MEDIA_TIMEOUT_REASON, RING_TIMEOUT } from '../reasons.ts';
import { targetFamily } from '../target-family.ts';
import type { Conference } from './conference-manager.ts';
import type { TransferringMember } from './member-transfer.ts';
import type { RosterEntry } from './roster.ts';
import type { LegMarker } from '../../policy/loop-marker.ts';
import { answerLegInfo } from '../dtmf-info.ts';
import { formatNameAddr } from '../name-addr.ts';

export interface DialOutOptions {
  to: string;
  /** 'normal' shows `to` in the roster; 'generated' hides the leg; 'impersonate' shows `as`. */
  identity: 'normal' | 'generated' | 'impersonate';
  as?: { uri: string; displayName?: string };
  /** The From of the INVITE; defaults to `as` when impersonating, else the room's own URI. */
  from?: string;
  ringTimeout: number;
  muted?: boolean;
  /** More headers of the INVITE (a member's transfer: Referred-By, Replaces). */
  headers?: Record<string, string>;
  /** Who takes the leg's REFERs (a room's `transfers: members`); absent: refused with 403. */
  takeRefers?: (member: TransferringMember, entry: RosterEntry) => { take(req: Srf.SrfRequest, res: Srf.SrfResponse): void };
}

export interface DialOutSettings {
  srf: Srf;
  loopMarker: LegMarker;
  outboundProxy: string | null;
  /** Host part of the room's own URI (`sip:<room>@<host>`). */
  localHost: string;
  /** sip.timers.t1 (ms): how long an offerless re-INVITE's 200 waits for its ACK (default 500). */
  sipT1?: number;
  /** Where the callee's requests in its early dialog are taken (absent: they get 481). */
  earlyLegs?: EarlyLegs;
}

/**
 * The host:port of the room's own URI: the SIP contact the connected server announced
 * (drachtio's `hostports`, e.g. `tcp/10.0.0.5:5070,udp/10.0.0.5:5070`, which a real
 * drachtio-server and the embedded one both send on connect), UDP first; `externalIp`
 * replaces the address. Not sip.listen: in remote mode that is not where the server listens.
 */
export function roomHost(hostports: string, externalIp: string | null): string {
  const entries = hostports
    .split(',')
    .map((e) => /^(\w+)\/(.+):(\d+)$/.exec(e.trim()))
    .filter((m): m is RegExpExecArray => m !== null);
  const pick = ['udp', 'tcp', 'tls'].map((t) => entries.find((m) => m[1].toLowerCase() === t)).find(Boolean) ?? entries[0];
  if (!pick) return externalIp ?? '127.0.0.1';
  const host = externalIp ?? pick[2];
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${pick[3]}`;
}

export class DialOutError extends Error {
  override name = 'DialOutError';
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Dials `opts.to` into `conf`; resolves once it answered and its media flows. `onLeft` runs once when it leaves (`joined`: after it answered, or failed before). */
export async function dialOut(
  conf: Conference,
  s: DialOutSettings,
  opts: DialOutOptions,
  log: Logger,
  onLeft: (joined: boolean) => void,
): Promise<{ legId: string; callId: string }> {
  const legId = `dial-${randomUUID().slice(0, 8)}`;
  const entry = conf.roster.join({ legId, callId: '', uri: opts.to, identity: opts.identity, as: opts.as });
  let leg: MediaLeg;
  let offer: string;
  try {
    const family = (await targetFamily(opts.to, s.outboundProxy !== null)) ?? 4;
    ({ leg, offer } = await conf.room.createOutgoingLeg({ id: legId, family }));
  } catch (err) {
    conf.roster.leave(legId, 'failed');
    onLeft(false);
    throw err;
  }
  // Heard by no one until it answered.
  leg.mute(true);
  let outgoing: Srf.SrfRequest | null = null;
  let timedOut = false;
  // Kicked, its room closed, or its ring timeout over: the wait ends at once (null). The INVITE
  // may have had no provisional yet, which its CANCEL must wait for (RFC 3261 §9.1, held by the
  // SIP core), and nothing of the room (nor the API request) waits for it.
  const dialWait = new DialWait();
  const timerRing = setTimeout(() => {
    timedOut = true;
    cancelInvite(outgoing, log);
    dialWait.giveUp();
  }, opts.ringTimeout * 1000);
  // Kicked, or its room closed, while it rings: the INVITE is cancelled at once (not left to
  // ring until someone answers, to be hung up on).
  const onLegClosed = (): void => {
    cancelInvite(outgoing, log);
    dialWait.giveUp();
  };
  leg.once('close', onLegClosed);
  const givenUp = (): boolean => timedOut || leg.isClosed;
  const from = fromOf(conf, s, opts);
  let held: HeldDialog;
  let unregisterEarly = (): void => undefined;
  try {
    // Its requests are held until its listeners are on (HeldDialog): a BYE or re-INVITE right
    // behind the 200 would otherwise be answered by drachtio-srf and never reach the room.
    // A callee's 3xx (call forwarding) is followed: its Contacts dialled in q order with the same offer (redirect-target.ts).
    const dialTo = (to: string): Promise<HeldDialog> =>
      createUac(
        s.srf,
        to,
        { localSdp: offer, headers: { ...opts.headers, [s.loopMarker.header]: s.loopMarker.value, From: from }, proxy: s.outboundProxy ?? undefined },
        {
          // drachtio-srf calls it as (err, req), whatever its typings say.
          cbRequest: ((_err: unknown, req?: Srf.SrfRequest) => {
            if (!req) return;
            outgoing = req;
            // An INFO in the callee's early dialog (after its 180/183, before its 200; RFC 6086 §4.2)
            // is answered as in the dialog; its digit is logged (the leg is in no one's events yet).
            // A REFER there: 491 until the leg is in the room when its transfers are taken, else 403 as in the dialog.
            const early = s.earlyLegs?.add(req.get('Call-ID') ?? '', (r, res) => {
              if (r.method === 'REFER') {
                if (opts.takeRefers) deferRefer(r, res, EARLY_DIALOG_WARNING, log);
                else refuseRefer(r, res, log);
                return true;
              }
              if (r.method !== 'INFO') return false;
              takeInfo(leg, r, res, log, legId, 'early');
              return true;
            });
            if (early) {
              unregisterEarly();
              unregisterEarly = early;
            }
            if (givenUp()) cancelInvite(req, log);
          }) as unknown as (req: Srf.SrfRequest) => void,
        },
        log,
        s.loopMarker,
      );
    const dialing = dialFollowingRedirects(opts.to, dialTo, givenUp, log);
    const first = await dialWait.answer(dialing, log, { legId });
    if (first === null) throw new DialOutError(487, 'given up');
    held = first;
  } catch (err) {
    const closed = leg.isClosed;
    leg.close();
    conf.roster.leave(legId, 'failed');
    onLeft(false);
    if (timedOut) throw new DialOutError(RING_TIMEOUT.status, RING_TIMEOUT.reason);
    if (closed) throw new DialOutError(487, 'the leg was kicked or its room closed while it rang');
    throw new DialOutError((err as { status?: number }).status ?? 500, (err as { reason?: string }).reason ?? (err as Error).message);
  } finally {
    unregisterEarly();
    clearTimeout(timerRing);
    leg.off('close', onLegClosed);
  }
  try {
    return await connect(conf, s, opts, log, onLeft, held, leg, legId, entry);
  } finally {
    // Whatever came from the callee meanwhile goes to the listeners now on (487 when none: it was given up).
    held.release();
  }
}

async function connect(
  conf: Conference,
  s: DialOutSettings,
  opts: DialOutOptions,
  log: Logger,
  onLeft: (joined: boolean) => void,
  held: HeldDialog,
  leg: MediaLeg,
  legId: string,
  entry: RosterEntry,
): Promise<{ legId: string; callId: string }> {
  const uac = held.dialog;
  entry.callId = uac.sip.callId;
  try {
    if (leg.isClosed) throw new Error('the room closed while dialling');
    // The 200's SDP: a re-INVITE held meanwhile has replaced uac.remote.sdp.
    await leg.applyAnswer(held.answer);
  } catch (err) {
    destroyDialog(uac, log);
    leg.close();
    conf.roster.leave(legId, 'failed');
    onLeft(false);
    throw new DialOutError(488, (err as Error).message);
  }
  if (opts.identity === 'generated') leg.hide(true);
  leg.mute(opts.muted === true);
  conf.roster.setMuted(legId, opts.muted === true);
  leg.on('talk', (t) => conf.roster.setTalking(legId, t));
  // Its digits (RFC 4733, in-band, or INFO below) are the roster's dtmf events of this leg.
  leg.on('dtmf', (e) => conf.roster.dtmf(legId, e.digit, e.durationMs));
  uac.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => takeInfo(leg, req, res, log, legId, 'joined'));
  let over = false;
  const onOver: (() => void)[] = [];
  const leave = (why: string, reason?: string): void => {
    if (over) return;
    over = true;
    for (const f of onOver.splice(0)) f();
    destroyDialog(uac, log, reason ? { Reason: reason } : undefined);
    leg.close();
    conf.roster.leave(legId, why);
    onLeft(true);
  };
  uac.on('destroy', () => leave('hung up'));
  answerReoffers(uac, leg, log, {
    ackWaitMs: ackWaitMs(s.sipT1 ?? 500),
    onEnd: (reason, why) => leave(why, reason),
    // A member that holds the call (it may send music on hold) is left out of the mix until it resumes.
    onPeerOffer: () => {
      conf.roster.setHeld(legId, peerHold(leg.media));
      if (!leg.isClosed) leg.mute(conf.roster.silenced(legId));
    },
  });
  if (opts.takeRefers) {
    const transfers = opts.takeRefers(
      {
        dialog: uac,
        get ended() {
          return over;
        },
        uri: opts.to,
        // The target is called from the room (not from whoever this leg impersonates).
        roomUri: opts.from ?? roomUriOf(conf, s),
        settings: s,
        hangup: () => leave('hung up by Parley after its transfer'),
        onEnded: (cb) => onOver.push(cb),
      },
      entry,
    );
    uac.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => transfers.take(req, res));
  } else refuseRefers(uac, log);
  leg.watchMedia();
  leg.on('mediatimeout', (secs) => leave(`media timeout (${secs} s without RTP)`, MEDIA_TIMEOUT_REASON));
  leg.once('close', (reason) => leave(`leg ${reason}`, conf.room.closedBy === 'media-thread-died' ? MEDIA_THREAD_FAILED_REASON : undefined));
  log.info({ room: conf.name, leg: legId, to: opts.to, identity: opts.identity }, 'dialled out into the room');
  return { legId, callId: uac.sip.callId };
}

/** A DTMF INFO from the dialled leg: 200 and its digit (400 for a bad body); any other INFO 200. */
function takeInfo(leg: MediaLeg, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger, legId: string, when: 'early' | 'joined'): void {
  answerLegInfo(leg, req, res, log, { leg: legId, early: when === 'early' }, when === 'early' ? 'the dialled leg before it answered' : 'the dialled leg');
}

/** The From of the leg's INVITE: `from`, else who it impersonates, else the room's own URI. */
/** The leg's From (a name-addr): `from` as given, else the impersonated identity with its display name (quoted, RFC 3261 §25.1), else the room. */
function fromOf(conf: Conference, s: DialOutSettings, opts: DialOutOptions): string {
  if (opts.from) return `<${opts.from}>`;
  if (opts.identity === 'impersonate' && opts.as) return formatNameAddr(opts.as);
  return `<${roomUriOf(conf, s)}>`;
}

function roomUriOf(conf: Conference, s: DialOutSettings): string {
  return `sip:${encodeURIComponent(conf.name)}@${s.localHost}`;
}
