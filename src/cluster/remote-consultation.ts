// An attended transfer whose consultation call is on another node of the cluster (consultation.ts
// for one node): the node that got the REFER asks Redis which node holds the call the Replaces
// names (its caller's Call-ID) and asks that node (POST /cluster/consultation) for the other party
// of the named dialog: its Contact and a Replaces naming its dialog with that node. The transfer's
// INVITE then goes from this node straight to that party, which swaps its consultation call for
// the new one and hangs the old one up (its node ends the consultation call); if it keeps it,
// this node asks the holder to end that call (DELETE /calls/:id) a few seconds after the answer.
// A node that does not answer, or answers anything else: the transfer goes on as if no node had
// the call (its Refer-To, its own Replaces).
import type { Consultation, RemoteConsultation } from '../call/consultation.ts';
import type { ReplacesId } from '../call/refer-request.ts';
import type { Logger } from '../util/logger.ts';
import type { ClusterNode } from './cluster-node.ts';

const PEER_TIMEOUT_MS = 3000;

/** The consultation another live node holds for `id`, or null: none (or it could not be asked). */
export async function remoteConsultation(node: ClusterNode, token: string, id: ReplacesId, log: Logger): Promise<RemoteConsultation | null> {
  const owner = await node.registry.callOwner(id.callId).catch(() => null);
  if (!owner || owner === node.nodeId) return null;
  const entry = await node.registry.entry(owner).catch(() => null);
  if (!entry) return null;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-parley-forwarded': '1' };
  try {
    const res = await fetch(`${entry.api}/cluster/consultation`, { method: 'POST', headers, body: JSON.stringify(id), signal: AbortSignal.timeout(PEER_TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { uri?: unknown; replaces?: unknown; message?: unknown };
    if (res.status === 403) return { refused: typeof body.message === 'string' ? body.message : 'refused by the node that holds the consultation call' };
    if (res.status !== 200 || typeof body.uri !== 'string' || typeof body.replaces !== 'string') return null;
    const end = (): void => {
      fetch(`${entry.api}/calls/${encodeURIComponent(id.callId)}`, { method: 'DELETE', headers, signal: AbortSignal.timeout(PEER_TIMEOUT_MS) }).catch((err: unknown) =>
        log.warn({ err, node: owner, callId: id.callId }, 'the node holding the consultation call could not be asked to end it'),
      );
    };
    log.info({ node: owner, consultation: id.callId }, 'consultation call on another node: the transfer goes to its other party');
    return { uri: body.uri, replaces: body.replaces, end };
  } catch (err) {
    log.warn({ err, node: owner, callId: id.callId }, 'the node holding the consultation call did not answer');
    return null;
  }
}

/** The holder's side (POST /cluster/consultation): a local consultation as the HTTP answer. */
export function consultationAnswer(found: Consultation | null): { status: 200 | 403 | 404; body: Record<string, unknown> } {
  if (found === null) return { status: 404, body: { error: 'not_found', message: 'no call of this node has that dialog' } };
  if ('refused' in found) return { status: 403, body: { error: 'refused', message: found.refused } };
  return { status: 200, body: { uri: found.uri, replaces: found.replaces } };
}
