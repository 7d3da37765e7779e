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
// What is not joined (403): a Replaces naming the transfer's own call, a call that is not a
// connected two-party bridge (an IVR, a conference), tags that do not match, a bridge with its
// own transfer under way. A bridge whose callee has answered but which is not connected yet
// (the caller may have the 200 and REFER at once) is waited for, up to CONNECTING_WAIT_MS.
import type { Logger } from '../util/logger.ts';
import type { ManagedCall } from './call-manager.ts';
import type { ReplacesId } from './refer-request.ts';
import type { SipCall } from './sip-call.ts';

/** Why a dialog of a call that is not in a bridge (an IVR, a conference) is neither joined nor replaced. */
export const NOT_A_BRIDGE = 'its Replaces names a call of this Parley that is not a connected two-party bridge';

/** Where a transfer that names a dialog of this Parley goes instead, or why it cannot. */
export type Consultation = { call: SipCall; uri: string; replaces: string } | { refused: string };

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
    if (peer === null && id.callId !== call.callId) continue;
    if (call === from) return { refused: 'its Replaces names a dialog of the transfer\'s own call' };
    if (peer === null) {
      // The callee answered; the caller may have its 200 already, the bridge's parties come next.
      const connecting = bridge?.connecting ?? null;
      return connecting ? { connecting } : { refused: NOT_A_BRIDGE };
    }
    return 'refused' in peer ? peer : { call, ...peer };
  }
  return null;
}

/** Ends the consultation call `own` if it is still up (its party kept the dialog the transfer's target replaced). */
export function consultationEnder(own: { call: SipCall }, log: Logger): () => void {
  return () => {
    if (own.call.ended) return;
    log.info({ consultation: own.call.callId }, 'the transfer\'s target kept its replaced dialog: the consultation call is ended');
    own.call.hangup();
  };
}
