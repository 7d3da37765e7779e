// Dialogs of calls on another node of the cluster, named by a Replaces (RFC 3891):
// - An attended transfer whose consultation call is on another node (consultation.ts for one
//   node): the node that got the REFER asks the other live nodes (POST /cluster/consultation;
//   first the one Redis says holds a call with that Call-ID) for the other party of the named
//   dialog: its Contact and a Replaces naming its dialog with that node (the others all at once
//   when that one has not got it). The transfer's INVITE
//   then goes from this node straight to that party, which swaps its consultation call for the
//   new one and hangs the old one up (its node ends the consultation call); if it keeps it, this
//   node asks the holder to end that call (DELETE /calls/:id) a few seconds after the answer.
//   No node has it, or none answers: the transfer goes on as if no node had the call (its
//   Refer-To, its own Replaces).
// - An INVITE with Replaces for a dialog another node holds (a phone REFERred the other party,
//   whose INVITE reached this node): redirected there (302, as a join to a room another node
//   owns); the node that has it takes it (replacing-invite.ts).
import type { Consultation, RemoteConsultation } from '../call/consultation.ts';
import type { ReplacesId } from '../call/refer-request.ts';
import { sipUriOrNull } from '../sip/message/header-values.ts';
import type { Logger } from '../util/logger.ts';
import type { ClusterNode } from './cluster-node.ts';
import { peerRequest } from './peer-request.ts';

interface Holder {
  node: string;
  api: string;
  sip: string;
  status: 200 | 403;
  body: { uri?: unknown; replaces?: unknown; message?: unknown };
}

/**
 * The other live node with a call that has the dialog `id` names, and what it said; null: none
 * (or none answered). The node Redis names as holding that Call-ID is asked first (it is the
 * one nearly always); when it is not, the others are asked all at once, so that a node that
 * does not answer costs one peer timeout (3 s), not one per node asked in turn.
 */
async function holderOf(node: ClusterNode, token: string, id: ReplacesId, log: Logger): Promise<Holder | null> {
  let entries = [...(await node.registry.nodes()).values()].filter((e) => e.id !== node.nodeId);
  const hint = await node.registry.callOwner(id.callId).catch(() => null);
  const ask = async (e: (typeof entries)[number]): Promise<Holder> => {
    let res: Response;
    try {
      res = await peerRequest(`${e.api}/cluster/consultation`, token, 'POST', id);
    } catch (err) {
      log.warn({ err, node: e.id, callId: id.callId }, 'a node did not answer whether it holds a dialog');
      throw err;
    }
    if (res.status !== 200 && res.status !== 403) throw new Error(`node ${e.id}: ${res.status}`);
    return { node: e.id, api: e.api, sip: e.sip, status: res.status, body: (await res.json().catch(() => ({}))) as Holder['body'] };
  };
  const hinted = entries.find((e) => e.id === hint);
  if (hinted) {
    const found = await ask(hinted).catch(() => null);
    if (found) return found;
    entries = entries.filter((e) => e !== hinted);
  }
  if (entries.length === 0) return null;
  return Promise.any(entries.map(ask)).catch(() => null);
}

/** The consultation another live node holds for `id`, or null: none (or it could not be asked). */
export async function remoteConsultation(node: ClusterNode, token: string, id: ReplacesId, log: Logger): Promise<RemoteConsultation | null> {
  const h = await holderOf(node, token, id, log).catch(() => null);
  if (!h) return null;
  if (h.status === 403) return { refused: typeof h.body.message === 'string' ? h.body.message : 'refused by the node that holds the consultation call' };
  if (typeof h.body.uri !== 'string' || typeof h.body.replaces !== 'string') return null;
  const end = (): void => {
    peerRequest(`${h.api}/calls/${encodeURIComponent(id.callId)}`, token, 'DELETE').catch((err: unknown) => log.warn({ err, node: h.node, callId: id.callId }, 'the node holding the consultation call could not be asked to end it'));
  };
  log.info({ node: h.node, consultation: id.callId }, 'consultation call on another node: the transfer goes to its other party');
  return { uri: h.body.uri, replaces: h.body.replaces, end };
}

/** The SIP URI (the Request-URI's user at its SIP address) of the other live node that holds the dialog `id` names; null: none. */
export async function nodeHolding(node: ClusterNode, token: string, id: ReplacesId, requestUri: string, log: Logger): Promise<string | null> {
  const h = await holderOf(node, token, id, log);
  if (!h) return null;
  const user = sipUriOrNull(requestUri)?.user;
  return `sip:${user ? `${user}@` : ''}${h.sip}`;
}

/** The holder's side (POST /cluster/consultation): a local consultation as the HTTP answer. */
export function consultationAnswer(found: Consultation | null): { status: 200 | 403 | 404; body: Record<string, unknown> } {
  if (found === null) return { status: 404, body: { error: 'not_found', message: 'no call of this node has that dialog' } };
  if ('refused' in found) return { status: 403, body: { error: 'refused', message: found.refused } };
  return { status: 200, body: { uri: found.uri, replaces: found.replaces } };
}
