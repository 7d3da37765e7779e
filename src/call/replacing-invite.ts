// An INVITE with Replaces (RFC 3891) for a party of one of Parley's bridges: in an attended
// transfer the transferor (an agent bridged by a record-notice gateway) may REFER its
// consultation target rather than Parley, with a Refer-To of Parley's Contact and a Replaces
// naming its own dialog with Parley; the target then sends Parley this INVITE. Parley answers
// it with a leg of its own in the call's room, connects it in the named party's place (as a
// transfer's target: leg and stem `callee-2`, or `caller-2` standing in for the caller (an agent
// that dialled out through Parley), re-INVITEs, holds, its BYE ends the call) and sends the
// replaced party a BYE; the call and its one recording go on.
// - The Replaces names a dialog of this Parley's calls by Call-ID, to-tag (Parley's) and
//   from-tag (the peer's). None with that Call-ID: 481 (RFC 3891 §3); tags that do not match:
//   481; a call whose bridge is not connected (ringing, transferring, ending): 403 with a
//   Warning. A call that no bridge holds (an IVR): the new party takes the caller's place on
//   its leg (caller-replacing.ts). A conference member's call: its new party takes the member's
//   place in the room (conference/member-replacing.ts). In a cluster, a dialog another node holds gets a
//   302 to that node (as a join to a room another node owns).
// - An INVITE without SDP, or with SDP Parley cannot use: 488.
// Only INVITEs the rule chain gave to a flow come here (app.ts): the rules screen them first.
import type Srf from 'drachtio-srf';
import type { MediaLeg, MediaRoom } from '../media-plane/media-api.ts';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import type { Logger } from '../util/logger.ts';
import type { BridgeParties } from './bridge-parties.ts';
import type { Callee, Side } from './bridge-transfer.ts';
import type { ManagedCall } from './call-manager.ts';
import { takeReplacingCaller } from './caller-replacing.ts';
import { NOT_A_BRIDGE } from './consultation.ts';
import { createUas, destroyDialog, warningHeader } from './dialog-util.ts';
import { parseNameAddr } from './name-addr.ts';
import { replacesId, replacesProblem, type ReplacesId } from './refer-request.ts';

/**
 * Answers an INVITE that carries Replaces: taken by the call it names, or refused (481, 400,
 * 403). `elsewhere` (a cluster): the SIP URI of the node that holds the dialog it names, where
 * the INVITE is redirected (302) when no call here has it.
 */
export function answerReplacingInvite(
  calls: Iterable<ManagedCall>,
  req: Srf.SrfRequest,
  res: Srf.SrfResponse,
  log: Logger,
  elsewhere?: (id: ReplacesId, requestUri: string) => Promise<string | null>,
  /** A conference member's call of that Call-ID takes it (conference/member-replacing.ts). */
  member?: (callId: string) => ((id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | null,
): void {
  const value = (req.get('Replaces') ?? '').trim();
  const problem = replacesProblem(value);
  if (problem !== null) {
    log.info({ replaces: value }, 'INVITE with a malformed Replaces: 400');
    res.send(400, { headers: { Warning: `399 parley "the Replaces ${problem}"` } });
    return;
  }
  const id = replacesId(value);
  const taker = member?.(id.callId);
  if (taker) return taker(id, req, res);
  for (const call of calls) {
    if (!('currentBridge' in call)) continue;
    if (call.currentBridge?.takeReplacing(id, req, res)) return;
    if (id.callId !== call.callId && id.callId !== call.callerDialog?.sip.callId) continue;
    // No bridge (an IVR, a prompt, a recording): the new party takes the caller's place (caller-replacing.ts).
    if (!call.currentBridge) return takeReplacingCaller(call, id, req, res);
    log.info({ replaces: value }, 'INVITE with Replaces naming a call whose bridge is not connected: 403');
    res.send(403, { headers: { Warning: `399 parley "${NOT_A_BRIDGE}"` } });
    return;
  }
  const none = (): void => {
    log.info({ replaces: value }, 'INVITE with Replaces naming no dialog of this Parley: 481');
    res.send(481);
  };
  if (!elsewhere) return none();
  elsewhere(id, req.uri).then(
    (contact) => {
      if (!contact) return none();
      log.info({ replaces: value, contact }, 'INVITE with Replaces naming a call on another node: redirected there');
      res.send(302, { headers: { Contact: `<${contact}>` } });
    },
    () => none(),
  );
}

/**
 * What `use` makes of a replacing INVITE's offer (a leg in the call's room, or the caller's
 * leg re-offered: caller-replacing.ts); null when the offer is missing or unusable, answered
 * 488 with a Warning.
 */
export async function withReplacingOffer<T>(req: Srf.SrfRequest, res: Srf.SrfResponse, use: (offer: string) => Promise<T>): Promise<T | null> {
  try {
    if (!req.body?.trim()) throw new SdpNegotiationError('an INVITE with Replaces needs an SDP offer here', 399);
    return await use(req.body);
  } catch (err) {
    if (!(err instanceof SdpNegotiationError)) throw err;
    res.send(err.sipStatus, { headers: { Warning: warningHeader(err) } });
    return null;
  }
}

/** The leg of the party a replacing INVITE brings, in `room` (a bridge's or a conference member's call). */
export function legForReplacingInvite(room: MediaRoom, id: string, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<{ leg: MediaLeg; answer: string } | null> {
  return withReplacingOffer(req, res, (offer) => room.createLeg(offer, { id }));
}

/** `parties`' part: true when `id` names one of its dialogs (the INVITE is then answered here). */
export function takeReplacingInvite(parties: BridgeParties, id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
  const named = parties.partyNamed(id);
  if (named === null) return false;
  const refuse = (status: number, why: string): true => {
    parties.log.info({ status, why, replaces: id.callId }, 'INVITE with Replaces refused');
    res.send(status, { headers: { Warning: `399 parley "${why}"` } });
    return true;
  };
  if ('refused' in named) return refuse(named.status, named.refused);
  connect(parties, named.party, named.side, req, res).catch((err: unknown) => {
    parties.log.error({ err }, 'replacing a party failed');
    if (!res.finalResponseSent) res.send(500);
  });
  return true;
}

async function connect(parties: BridgeParties, from: Callee, side: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  const { call, deps, log } = parties;
  const over = (): boolean => call.ended || from.gone;
  const id = parties.nextLegId(side);
  const created = await legForReplacingInvite(call.room, id, req, res);
  if (!created) return;
  const { leg, answer } = created;
  if (over()) {
    leg.close();
    res.send(481);
    return;
  }
  let uas: Srf.Dialog;
  try {
    uas = await createUas(deps.srf, req, res, { localSdp: answer }, () => undefined);
  } catch (err) {
    leg.close();
    log.info({ err }, 'the replacing INVITE was not answered (CANCEL, or the SIP server failed)');
    return;
  }
  if (over()) {
    leg.close();
    destroyDialog(uas, log);
    return;
  }
  const uri = parseNameAddr(req.get('From')).uri;
  log.info({ leg: id, replaced: from.id, uri }, 'INVITE with Replaces: connected in place of the party it named');
  call.activeRecording?.transfer({ event: 'replaced', leg: from.id, target: uri, newLeg: id });
  parties.replacedByInvite(from, { uac: uas, leg, id, gone: false }, uri, side);
}
