// A request from this node to another node's control API: its token, marked as from a node
// (X-Parley-Forwarded: answered there, never forwarded again), JSON when it has a body, and a
// deadline. Every node-to-node call goes through here (pipes, holds, consultations, probes).

/** The header that marks a request as from another node. */
export const FORWARDED = 'x-parley-forwarded';

/** How long another node may take to answer, unless the caller says otherwise. */
export const PEER_TIMEOUT_MS = 3000;

export function peerRequest(url: string, token: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown, timeoutMs = PEER_TIMEOUT_MS): Promise<Response> {
  return fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, [FORWARDED]: '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
}
