// An attended transfer whose consultation call went through this Parley too (the agent of a
// record-notice gateway calls a supervisor through it, then transfers the customer there): the
// REFER's Replaces names the transferor's dialog with Parley, which the target has never seen,
// and its Refer-To is usually Parley's own Contact. Parley, which anchors both calls, joins
// them itself, as FreeSWITCH and Asterisk do for two calls they hold: the transfer's INVITE goes
// to the other party of the named dialog's bridge (its Contact), with a Replaces naming that
// party's own dialog with Parley (RFC 3891: `to-tag` the recipient's tag, `from-tag` Parley's).
// The party swaps its consultation call for the new one and hangs the old one up, which ends
// the consultation call (the transferor gets its BYE); Parley ends it itself when the party has
// not within a few seconds.
// A consultation call that Parley answers itself (the agent called the payment IVR, or a
// conference room, through it) has no other party to ask: there the transfer's INVITE goes to
// Parley itself, with the REFER's own Replaces (the agent's dialog with Parley), and the party
// being transferred takes the agent's place in that call as any replacing INVITE would
// (caller-replacing.ts, conference/member-replacing.ts); that call goes on (`keep`), the agent
// gets its BYE there. The INVITE carries the loop marker: InboundRouter hands an INVITE whose
// Replaces names such a dialog to that call, whatever the rule chain says.
// What is not joined (403): a Replaces naming the transfer's own call, a bridge not connected
// (and no caller of its own to replace), tags that do not match, a bridge with its own transfer
// under way. A bridge whose callee has answered but which is not connected yet (the caller may
// have the 200 and REFER at once) is waited for, up to CONNECTING_WAIT_MS.
import type { Logger } from '../util/logger.ts';
import type { ManagedCall } from './call-manager.ts';
import type { ReplacesId } from './refer-request.ts';
import type { SipCall } from './sip-call.ts';

/** Why a dialog of a call that is not in a bridge (an IVR, a conference) is neither joined nor replaced. */
export const NOT_A_BRIDGE = 'its Replaces names a call of this Parley that is not a connected two-party bridge';

/**
 * Where a transfer that names a dialog of this Parley goes instead, or why it cannot. `keep`:
 * the named dialog is Parley's own (an IVR, a conference member's call): `uri` is Parley, and
 * the call goes on with the party transferred to it (it is not ended after the transfer).
 */
export type Consultation = { call: SipCall; uri: string; replaces: string; keep?: true } | { refused: string };

/** A consultation call on another node of a cluster (cluster/remote-consultation.ts): where the transfer goes, and how to end that call. */
export type RemoteConsultation = { uri: string; replaces: string; end: () => void } | { refused: string };

/** What a bridge says of a dialog named by a Replaces: its other party, refused, or null (not one of its dialogs). */
export type ConsultationPeer = { uri: string; replaces: string } | { refused: string } | null;

/** How long a transfer waits for the bridge its Replaces names to connect (its callee answered, its parties not set yet). */
export const CONNECTING_WAIT_MS = 3000;

/**
 * The call among `calls()` that has the dialog `id` names, and where the transfer of `from`
 * (null: another node's) goes; null: none has it (SIPREC sessions have none). A bridge still
 * connecting is waited for (at most `waitMs`), then looked at again.
 */
export async function findConsultation(calls: () => Iterable<ManagedCall>, id: ReplacesId, from: SipCall | null, waitMs = CONNECTING_WAIT_MS): Promise<Consultation | null> {
  const first = lookUp(calls(), id, from);
  if (first === null || !('connecting' in first)) return first;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([first.connecting, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
  const again = lookUp(calls(), id, from);
  return again !== null && 'connecting' in again ? { refused: 'that call is still connecting' } : again;
}

function lookUp(calls: Iterable<ManagedCall>, id: ReplacesId, from: SipCall | null): Consultation | { connecting: Promise<void> } | null {
  for (const call of calls) {
    if (!('currentBridge' in call)) continue;
    const bridge = call.currentBridge;
    const peer = bridge?.consultationPeer(id) ?? null;
    if (peer === null && id.callId !== call.callId && id.callId !== call.callerDialog?.sip.callId) continue;
    if (call === from) return { refused: 'its Replaces names a dialog of the transfer\'s own call' };
    if (peer === null) {
      // The callee answered; the caller may have its 200 already, the bridge's parties come next.
      const connecting = bridge?.connecting ?? null;
      if (connecting) return { connecting };
      return bridge ? { refused: NOT_A_BRIDGE } : ownDialog(call, id);
    }
    return 'refused' in peer ? peer : { call, ...peer };
  }
  return null;
}

/** No bridge holds `call` (an IVR, a conference member's call): the transfer goes to Parley itself, naming the caller's dialog. */
function ownDialog(call: SipCall, id: ReplacesId): Consultation {
  const d = call.callerDialog;
  if (!d || call.ended) return { refused: 'its Replaces names a call of this Parley that is ending' };
  if (d.sip.callId !== id.callId || d.sip.localTag !== id.toTag || d.sip.remoteTag !== id.fromTag) return { refused: "its Replaces names a call of this Parley but not its dialog's tags" };
  // Where the agent reached that dialog: the Contact Parley gave it.
  const contact = (d.local as { contact?: string }).contact ?? ''; // drachtio-srf sets it; its typings leave it out
  const uri = /<([^>]+)>/.exec(contact)?.[1] ?? contact.trim();
  if (!/^sips?:/i.test(uri)) return { refused: 'its Replaces names a call of this Parley without a Contact to reach it at' };
  return { call, uri, replaces: `${id.callId};to-tag=${id.toTag};from-tag=${id.fromTag}`, keep: true };
}

/** Ends the consultation call `own` if it is still up (its party kept the dialog the transfer's target replaced); a call Parley keeps (`keep`) is not. */
export function consultationEnder(own: { call: SipCall; keep?: true }, log: Logger): () => void {
  if (own.keep) return () => undefined;
  return () => {
    if (own.call.ended) return;
    log.info({ consultation: own.call.callId }, 'the transfer\'s target kept its replaced dialog: the consultation call is ended');
    own.call.hangup();
  };
}
