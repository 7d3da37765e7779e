// RFC 3263 §4.3 for a target that does not answer at all. A request to a domain's first SRV
// target whose host is down or behind a firewall that drops packets gets no ICMP and no
// response: its transaction would wait for timer B or F (64*T1, 32 s on UDP; a TCP connect to
// a black hole as long) before the next target is tried, and the caller gives up long before.
// While another target is left, a target that has sent nothing (not even 100 Trying) within
// `sip.dns.failoverAfterMs` is left for the next one, as proxies do with a short failure timer
// (Kamailio's fr_timer, OpenSIPS's): its transaction ends without a response (an INVITE gets
// no CANCEL, which needs a provisional response first: RFC 3261 §9.1), so a late answer from
// it is a stray response.

/**
 * Calls `fire` after `ms` unless the returned function is called first (a response, a
 * transport error or the transaction's end). Nothing is armed when `ms` is 0 or no other
 * target is left.
 */
export function noAnswerTimer(ms: number, othersLeft: number, fire: () => void): () => void {
  if (ms <= 0 || othersLeft === 0) return () => undefined;
  let t: NodeJS.Timeout | null = setTimeout(() => {
    t = null;
    fire();
  }, ms);
  return () => {
    if (t) clearTimeout(t);
    t = null;
  };
}
