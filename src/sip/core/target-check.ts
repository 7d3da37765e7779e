// What a dialog is later built from and routed by (Contact, Record-Route), and the From and
// To every handler reads, checked once where a message enters, so that a malformed one is
// refused there (a 400 to a request, a dropped response, an NOK to the app) rather than
// thrown later from a timer or a transaction callback, where nothing catches it.
import { parseNameAddr, parseUri } from '../message/header-values.ts';
import type { SipMessage } from '../message/sip-message.ts';

/** Methods whose Contact becomes a dialog's remote target (RFC 3261 §8.1.1.8, §12.1.1; RFC 6665). */
const TARGET_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'UPDATE']);

/**
 * A request's Contact and Record-Route: one we cannot read is a 400 now, before an app or a
 * call exists, not a failure later (issue 12). A REGISTER's Contact is the registrar's to
 * judge (RFC 4475 §3.3.4), past its syntax. Throws a SipError(400).
 */
export function checkTargets(req: SipMessage): void {
  const target = TARGET_METHODS.has(req.method ?? '');
  for (const c of req.getAll('Contact')) {
    if (c === '*' && req.method === 'REGISTER') continue;
    const uri = parseNameAddr(c).uri;
    if (target) parseUri(uri);
  }
  if (target) for (const r of req.getAll('Record-Route')) parseUri(parseNameAddr(r).uri);
}

/**
 * A response from the network, before its transaction sees it: From and To (tags make
 * dialogs), and where a dialog or a redirect is made from it, Contact and Record-Route.
 * A transaction that took the response and whose user then threw would be left in a state
 * with no timer to end it. Throws a SipError(400); the caller drops the response.
 */
export function checkResponse(res: SipMessage): void {
  void res.from;
  void res.to;
  const status = res.status;
  const dialogForming = status > 100 && status < 300 && TARGET_METHODS.has(res.cseq.method);
  if (dialogForming) for (const c of res.getAll('Contact')) parseUri(parseNameAddr(c).uri);
  // A redirect may name any absolute URI (RFC 3261 §20.10: http:, mailto:): only its SIP ones
  // must be readable (they may be followed); the others are skipped by whoever follows it.
  if (status >= 300 && status < 400) {
    for (const c of res.getAll('Contact')) {
      const uri = parseNameAddr(c).uri;
      if (/^(sips?|tel):/i.test(uri)) parseUri(uri);
    }
  }
  if (dialogForming) for (const r of res.getAll('Record-Route')) parseUri(parseNameAddr(r).uri);
}

/**
 * A request an app asks us to send: the From, To and Contact we put in it are read again
 * by its responses, its CANCEL, its dialog and its timeouts. Throws a SipError(400).
 */
export function checkAppRequest(req: SipMessage): void {
  void req.from;
  void req.to;
  void req.cseq;
  checkTargets(req);
}
