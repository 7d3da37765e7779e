// One srf.proxyRequest: forwards the app's pending request to its targets and answers
// upstream with the first 2xx or the best final response (RFC 3261 §16.6, §16.7).
import { noAnswerTimer } from './dns-failover.ts';
import { callLogger } from '../../util/logger.ts';
import type { ControlConnection } from '../control/control-connection.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { SipError } from '../message/sip-error.ts';
import { SipMessage, type HeaderField } from '../message/sip-message.ts';
import type { CoreContext, PendingUas } from './core-context.ts';
import { makeResponse, meta6, newBranch, recordRouteFor, responseDestination, viaFor, wantsSips } from './message-factory.ts';
import { isStream, type Endpoint } from '../transport/transport-types.ts';
import { applyAppHeaders } from './proxy-app-headers.ts';
import { ProxyBranch } from './proxy-branch.ts';
import { routeNextHop } from './route-next-hop.ts';
import { splitUriHeaders } from '../message/uri-headers.ts';
import { forwardedUri, SipsNotAllowedError } from './sips-hop.ts';
import type { ClientTransaction } from '../transaction/transaction-layer.ts';
import { InviteClientTransaction } from '../transaction/invite-client-transaction.ts';

export interface ProxyOptions {
  pending: PendingUas;
  conn: ControlConnection;
  rid: string;
  targets: string[];
  extraHeaders: HeaderField[];
  recordRoute: boolean;
  fullResponse: boolean;
  followRedirects: boolean;
  simultaneous: boolean;
  provisionalMs: number | null;
  finalMs: number | null;
  onDone: () => void;
}

export class ProxyOperation {
  private readonly branches: ProxyBranch[] = [];
  private readonly queue: string[];
  private readonly finals: SipMessage[] = [];
  private answered = false;
  private cancelled = false;
  private done = false;
  private redirects = 0;

  constructor(private readonly ctx: CoreContext, private readonly o: ProxyOptions) {
    this.queue = [...o.targets];
  }

  start(): void {
    if (this.o.simultaneous) while (this.queue.length) this.launch(this.queue.shift() as string);
    else this.next();
  }

  private next(): void {
    const t = this.queue.shift();
    if (t) this.launch(t);
    else this.maybeFinish();
  }

  private launch(target: string): void {
    const b = new ProxyBranch(target);
    this.branches.push(b);
    this.send(b).catch((err: unknown) => {
      callLogger(this.ctx.log, this.o.pending.req.callId).info({ err, target }, 'proxy target failed');
      // A target that is no URI to send to (a tel: number, a bad host) is said so (416, 400); one that did not resolve or answer, 503.
      const known = err instanceof SipError && (err.status === 416 || err.status === 400 || err instanceof SipsNotAllowedError);
      const res = known ? makeResponse(this.o.pending.req, err.status, err.reason) : makeResponse(this.o.pending.req, 503, 'Service Unavailable');
      if (err instanceof SipsNotAllowedError) res.add('Warning', err.warning);
      this.onFinal(b, res);
    });
  }

  /** §16.6: copy, new Request-URI, Max-Forwards - 1, Record-Route, new top Via. */
  private async send(b: ProxyBranch): Promise<void> {
    const p = this.o.pending;
    // §19.1.5: a target's URI headers (a retarget's, a 3xx Contact's) go in the request, not its Request-URI.
    const formed = splitUriHeaders(b.target);
    if (formed.ignored.length) callLogger(this.ctx.log, p.req.callId).warn({ target: formed.uri, ignored: formed.ignored }, 'headers of the target URI that may not be set from a URI: ignored (RFC 3261 §19.1.5)');
    const req = p.req.clone();
    req.uri = forwardedUri(p.req.uri, formed.uri);
    for (const h of formed.headers) req.set(h.name, h.value);
    // §16.6 steps 6-7: the topmost Route left after ours (§16.4) is the next hop, whatever the Request-URI.
    const next = routeNextHop(req);
    const dests = await this.ctx.resolver.destinations(next, 'udp', req.uri);
    req.set('Max-Forwards', String(Math.max(0, Number(req.get('Max-Forwards') ?? '70') - 1)));
    if (this.o.recordRoute && p.req.method === 'INVITE') {
      const inbound = this.ctx.sender.localFor(p.inbound.source.transport, p.inbound.source.address);
      req.prepend('Record-Route', recordRouteFor(inbound, wantsSips(p.req)));
    }
    // The app's headers are added as drachtio-server adds them (never removed).
    applyAppHeaders(req, this.o.extraHeaders);
    if (this.o.provisionalMs) b.timerProvisional = setTimeout(() => this.giveUp(b, 'provisional timeout'), this.o.provisionalMs);
    if (this.o.finalMs) b.timerFinal = setTimeout(() => this.giveUp(b, 'final timeout'), this.o.finalMs);
    this.transmit(b, req, dests[0]!, dests.slice(1));
  }

  /**
   * The branch's request to `dest` in a new client transaction. `others`: the target's further
   * DNS destinations (RFC 3263 §4.3), tried in turn after a transport error or a 503 that came
   * before any provisional response.
   */
  private transmit(b: ProxyBranch, base: SipMessage, dest: Endpoint, others: Endpoint[]): void {
    const p = this.o.pending;
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    const req = base.clone();
    req.prepend('Via', viaFor(lp, newBranch()));
    b.request = req;
    b.dest = dest;
    if (this.done || this.cancelled || b.cancelled) return;
    const failover = (why: string): boolean => {
      if (others.length === 0 || b.state !== 'trying' || b.cancelled || this.cancelled || this.answered) return false;
      this.ctx.resolver.counts.failovers++;
      callLogger(this.ctx.log, p.req.callId).info({ target: b.target, from: dest, to: others[0], why }, 'proxied request sent to the next DNS target (RFC 3263 §4.3)');
      this.transmit(b, base, others[0]!, others.slice(1));
      return true;
    };
    // This transaction's own: a late error of an earlier destination must not end the next one.
    let txn: ClientTransaction | null = null;
    // Stops the wait for a first response (dns-failover.ts); armed once the transaction is made.
    let answered = (): void => undefined;
    const created = (txn = b.txn = this.ctx.txns.createClient(req, (m) => {
      this.ctx.sender.send(dest, m.toBuffer(), null, (err) => txn?.transportError(err));
    }, isStream(dest.transport), {
      onResponse: (res) => {
        answered();
        if (res.status === 503 && failover('503')) return;
        this.onResponse(b, res);
      },
      onTimeout: () => {
        if (failover('no response (transaction timeout)')) return;
        // A branch CANCELled (the caller's CANCEL) that never answered it: taken as cancelled (§9.1).
        this.onFinal(b, b.cancelled ? makeResponse(p.req, 487, 'Request Terminated') : makeResponse(p.req, 408, 'Request Timeout'));
      },
      onTransportError: (err) => {
        answered();
        if (failover(err.message)) return;
        this.onFinal(b, makeResponse(p.req, 503, 'Service Unavailable'));
      },
      onTerminated: () => answered(),
      // §16.6 step 11, §16.8: rung for timer C with no final response: CANCEL, 408 upstream.
      onTimerC: () => this.giveUp(b, 'timer C'),
    }));
    const ms = this.ctx.resolver.failoverAfterMs;
    if (!created.state.is('terminated')) answered = noAnswerTimer(ms, others.length, () => {
      if (failover(`no response in ${ms} ms`)) created.terminate();
    });
  }

  private giveUp(b: ProxyBranch, why: string): void {
    if (b.state === 'done') return;
    callLogger(this.ctx.log, this.o.pending.req.callId).info({ target: b.target, why }, 'proxy branch abandoned');
    b.cancelled = true;
    if (b.state === 'proceeding') this.sendCancel(b);
    else b.txn?.terminate();
    this.onFinal(b, makeResponse(this.o.pending.req, 408, 'Request Timeout'));
  }

  private onResponse(b: ProxyBranch, res: SipMessage): void {
    if (b.cancelled && b.state === 'done' && (res.status < 200 || res.status >= 300)) {
      // A branch cancelled before any provisional (see cancelBranch): a late provisional
      // gets its CANCEL now; a non-2xx final was ACKed by the transaction and is not needed.
      if (res.status < 200) this.sendCancel(b);
      return;
    }
    if (res.status < 200) {
      if (b.timerProvisional) clearTimeout(b.timerProvisional);
      b.timerProvisional = null;
      b.state = 'proceeding';
      if (b.cancelled) this.sendCancel(b);
      if (res.status === 100 || this.answered || b.state !== 'proceeding') return; // §16.7: 100 is not forwarded
      this.upstream(res);
      return;
    }
    if (res.status < 300) {
      // §16.7 step 5: every 2xx goes upstream at once; other branches are cancelled.
      b.clearTimers();
      b.state = 'done';
      this.upstream(res);
      if (!this.answered) {
        this.answered = true;
        for (const o of this.branches) if (o !== b) this.cancelBranch(o);
        this.report(res, true);
        this.finish();
      }
      return;
    }
    this.onFinal(b, res);
  }

  private onFinal(b: ProxyBranch, res: SipMessage): void {
    if (b.state === 'done') return;
    b.clearTimers();
    b.state = 'done';
    if (this.answered) return;
    if (this.o.followRedirects && res.status >= 300 && res.status < 400 && this.redirects < 5 && !this.cancelled) {
      const contacts = res.getAll('Contact').flatMap(contactUri); // SipCore drops a 3xx with a bad one; synthetic ones have none
      if (contacts.length) {
        this.redirects++;
        this.queue.unshift(...contacts);
        if (this.o.simultaneous) while (this.queue.length) this.launch(this.queue.shift() as string);
        else this.next();
        return;
      }
    }
    this.finals.push(res);
    if (this.o.simultaneous || this.cancelled) this.maybeFinish();
    else this.next();
  }

  private maybeFinish(): void {
    if (this.answered || this.done) return;
    if (this.branches.some((b) => b.state !== 'done') || (this.queue.length && !this.cancelled)) return;
    const best = this.best();
    this.upstream(best);
    for (const f of this.finals) if (f !== best) this.report(f, false);
    this.report(best, true);
    this.finish();
  }

  /** §16.7 step 6: a 6xx wins; otherwise the lowest class; 408 when nothing answered. */
  private best(): SipMessage {
    const p = this.o.pending;
    if (this.cancelled && !this.finals.length) return makeResponse(p.req, 487, 'Request Terminated');
    if (!this.finals.length) return makeResponse(p.req, 408, 'Request Timeout');
    const six = this.finals.find((r) => r.status >= 600);
    if (six) return six;
    return [...this.finals].sort((a, b) => Math.floor(a.status / 100) - Math.floor(b.status / 100) || a.status - b.status)[0];
  }

  /** Sends a response upstream without our Via (§16.7 step 9). */
  private upstream(res: SipMessage): void {
    const p = this.o.pending;
    const out = makeResponse(p.req, res.status, res.reason);
    out.set('To', res.get('To') ?? p.req.get('To') ?? '');
    for (const h of res.headers) if (!['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length'].includes(h.name)) out.headers.push({ ...h });
    out.body = res.body;
    if (!p.txn.finalSent) {
      p.txn.respond(out);
      return;
    }
    if (res.status >= 200 && res.status < 300) {
      const t = responseDestination(p.req, p.inbound); // further 2xx go statelessly (§16.7 step 5)
      this.ctx.sender.send(t.dest, out.toBuffer(), t.connectionId);
    }
  }

  /** Tells the app about a final response (fullResponse) and, with `last`, that it is done. */
  private report(res: SipMessage, last: boolean): void {
    const { conn, rid } = this.o;
    const text = res.toString();
    const d = this.branches.find((b) => b.dest)?.dest;
    conn.reply(rid, `OK|${meta6('network', Buffer.byteLength(text), d?.transport ?? 'udp', d?.address ?? '', d?.port ?? 0)}|||continue\r\n${text}`);
    if (last) conn.reply(rid, 'OK|done');
  }

  /** An upstream CANCEL (§16.10): every pending branch is cancelled; the 487s make the answer. */
  cancel(): void {
    if (this.answered || this.cancelled) return;
    this.cancelled = true;
    this.queue.length = 0;
    for (const b of this.branches) this.cancelBranch(b);
    this.maybeFinish();
  }

  private cancelBranch(b: ProxyBranch): void {
    if (b.state === 'done' || b.cancelled) return;
    b.cancelled = true;
    if (b.state === 'proceeding') this.sendCancel(b);
    else if (b.state === 'trying') {
      // §9.1: no CANCEL before a provisional response. The branch counts as ended, but its
      // client transaction lives on: a final response that comes later must still be ACKed
      // (§17.1.1.3), and a provisional one is then CANCELled (onResponse).
      b.clearTimers();
      b.state = 'done';
    }
  }

  private sendCancel(b: ProxyBranch): void {
    const req = b.request;
    const dest = b.dest;
    if (!req || !dest || b.cancelSent) return;
    b.cancelSent = true;
    // §9.1: with no final response within 64*T1 of the CANCEL, the branch is taken as cancelled.
    if (b.txn instanceof InviteClientTransaction) b.txn.cancelSent();
    const c = SipMessage.request('CANCEL', req.uri ?? '');
    c.add('Via', req.get('Via') ?? '');
    c.add('Max-Forwards', '70');
    for (const n of ['From', 'To', 'Call-ID']) c.add(n, req.get(n) ?? '');
    c.add('CSeq', `${req.cseq.seq} CANCEL`);
    for (const r of req.getAll('Route')) c.add('Route', r); // §9.1: the Route set of the request it cancels
    this.ctx.txns.createClient(c, (m) => {
      this.ctx.sender.send(dest, m.toBuffer(), null);
    }, isStream(dest.transport), { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined, onTerminated: () => undefined });
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const b of this.branches) b.clearTimers();
    this.o.onDone();
  }

  close(): void {
    this.finish();
  }
}

/** A redirect's Contact as a target, or nothing when it cannot be read or is no SIP URI (http:, mailto:). */
function contactUri(c: string): string[] {
  try {
    const uri = parseNameAddr(c).uri;
    return /^sips?:/i.test(uri) ? [uri] : [];
  } catch {
    return [];
  }
}
