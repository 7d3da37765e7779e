// Stateful proxying for srf.proxyRequest (RFC 3261 §16): serial or simultaneous forking,
// provisional and final timeouts, Record-Route when the app stays in the dialog, CANCEL
// propagation, best-response selection and redirects. Later requests carrying our Route are
// forwarded statelessly without the app (§16.11), and so are their responses.
import { createHmac, randomBytes } from 'node:crypto';
import type { ControlConnection, ControlMessage } from '../control/control-connection.ts';
import { parseNameAddr, parseUri, parseVia, type Via } from '../message/header-values.ts';
import type { SipMessage } from '../message/sip-message.ts';
import { InviteServerTransaction } from '../transaction/invite-server-transaction.ts';
import type { Inbound } from '../transport/transport-types.ts';
import type { CoreContext, PendingUas } from './core-context.ts';
import { makeResponse, responseDestination, uriDestination, viaFor } from './message-factory.ts';
import type { ProxyHandler } from './proxy-handler.ts';
import { ProxyOperation } from './proxy-operation.ts';

const STATELESS_PREFIX = 'z9hG4bKsl';

export class ProxyCore implements ProxyHandler {
  private readonly ops = new Map<InviteServerTransaction | object, ProxyOperation>();
  /**
   * Keys the branches of statelessly forwarded requests. A response is relayed only when its
   * branch is the MAC of the Via it would be relayed to, so the branch proves we made it and
   * nobody can aim a relay at a host of their choosing (RFC 3261 §16.11, §18.1.2).
   */
  private readonly branchKey = randomBytes(32);

  constructor(private readonly ctx: CoreContext) {}

  /** `proxy|txnId|remainInDialog|fullResponse|followRedirects|mode|provisionalTimeout|finalTimeout|dest…` */
  command(conn: ControlConnection, msg: ControlMessage, sip: SipMessage): void {
    const t = msg.tokens;
    const p = this.ctx.pendingUas.get(t[2] ?? '');
    if (!p) return conn.reply(msg.rid, 'NOK|unknown transaction');
    if (p.txn.finalSent) return conn.reply(msg.rid, 'NOK|final response already sent');
    const targets = t.slice(9).filter((d) => d.length > 0);
    if (!targets.length) return conn.reply(msg.rid, 'NOK|no destination');
    this.takeOver(p);
    const op = new ProxyOperation(this.ctx, {
      pending: p,
      conn,
      rid: msg.rid,
      targets,
      extraHeaders: sip.headers,
      recordRoute: t[3] === 'remainInDialog',
      fullResponse: t[4] === 'fullResponse',
      followRedirects: t[5] === 'followRedirects',
      simultaneous: t[6] === 'simultaneous',
      provisionalMs: parseDuration(t[7]),
      finalMs: parseDuration(t[8]),
      onDone: () => this.ops.delete(p.txn),
    });
    this.ops.set(p.txn, op);
    op.start();
  }

  private takeOver(p: PendingUas): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    this.ctx.pendingUas.delete(p.txnId);
  }

  handleRequest(inbound: Inbound, req: SipMessage): boolean {
    if (req.method === 'CANCEL') {
      const ist = this.ctx.txns.findServer(req, 'INVITE');
      const op = ist ? this.ops.get(ist) : undefined;
      if (!op) return false;
      const send = responseDestination(req, inbound);
      this.ctx.sender.send(send.dest, makeResponse(req, 200, 'OK').toBuffer(), send.connectionId);
      op.cancel();
      return true;
    }
    const route = req.get('Route');
    if (!route || !this.isUs(route, inbound)) return false;
    // The ACK of a non-2xx final response carries the INVITE's Route (§17.1.1.3) and its
    // branch: it is our INVITE server transaction's (§17.2.1), not a request to forward.
    if (req.method === 'ACK' && this.ctx.txns.findServer(req) instanceof InviteServerTransaction) return false;
    if (!req.to.params.get('tag')) {
      // A preloaded Route naming us on a new request: pop it and let the app decide (§16.4).
      const rest = req.getAll('Route').slice(1);
      req.remove('Route');
      for (const r of rest) req.add('Route', r);
      return false;
    }
    this.forwardStateless(inbound, req).catch((err: unknown) => this.ctx.log.info({ err }, 'stateless forward failed'));
    return true;
  }

  private isUs(route: string, inbound: Inbound): boolean {
    try {
      const u = parseUri(parseNameAddr(route).uri);
      const lp = this.ctx.sender.localFor(inbound.source.transport, inbound.source.address);
      return (u.host === lp.host || u.host === inbound.local.address) && (u.port ?? (u.scheme === 'sips' ? 5061 : 5060)) === lp.port;
    } catch {
      return false;
    }
  }

  /** §16.11 stateless forwarding of a request that carries our Route (our own Record-Route). */
  private async forwardStateless(inbound: Inbound, req: SipMessage): Promise<void> {
    const mf = Number(req.get('Max-Forwards') ?? '70');
    if (mf <= 0) {
      // §16.3 step 2: 483 Too Many Hops (an ACK gets no response: it is dropped).
      if (req.method === 'ACK') return;
      const send = responseDestination(req, inbound);
      this.ctx.sender.send(send.dest, makeResponse(req, 483, 'Too Many Hops').toBuffer(), send.connectionId);
      return;
    }
    const routes = req.getAll('Route');
    const fwd = req.clone();
    fwd.remove('Route');
    for (const r of routes.slice(1)) fwd.add('Route', r);
    fwd.set('Max-Forwards', String(mf - 1));
    const next = routes.length > 1 ? parseNameAddr(routes[1]).uri : fwd.uri ?? '';
    const dest = await uriDestination(this.ctx.resolver, next, 'udp', fwd.uri);
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    // A branch derived from the incoming Via, so retransmissions map to the same branch (§16.11).
    const branch = this.statelessBranch(req.topVia, req.method ?? '');
    fwd.prepend('Via', viaFor(lp, branch));
    this.ctx.sender.send(dest, fwd.toBuffer(), null);
    this.ctx.log.debug({ method: req.method, to: dest }, 'forwarded on our Record-Route');
  }

  /** Responses to statelessly forwarded requests: strip our Via, send to the next one (§16.11). */
  handleStrayResponse(res: SipMessage): boolean {
    const vias = res.getAll('Via');
    if (vias.length < 2) return false;
    const branch = res.topVia.params.get('branch') ?? '';
    if (!branch.startsWith(STATELESS_PREFIX)) return false;
    const via = parseVia(vias[1]);
    if (branch !== this.statelessBranch(via, res.cseq.method)) {
      this.ctx.log.info({ status: res.status, callId: res.get('Call-ID') }, 'response with a branch we did not make dropped');
      return false;
    }
    const fwd = res.clone();
    fwd.remove('Via');
    for (const v of vias.slice(1)) fwd.add('Via', v);
    const rport = via.params.get('rport');
    const transport = via.transport === 'TLS' ? 'tls' : via.transport === 'TCP' ? 'tcp' : 'udp';
    this.ctx.sender.send({ transport, address: via.params.get('received') ?? via.host, port: rport ? Number(rport) : via.port ?? 5060 }, fwd.toBuffer(), null);
    return true;
  }

  /** MAC of what the relay would act on: the upstream Via's transport, address, port and branch, and the method. */
  private statelessBranch(upstream: Via, method: string): string {
    const p = upstream.params;
    const what = [upstream.transport, upstream.host, upstream.port, p.get('received'), p.get('rport'), p.get('branch'), method].join('|');
    return STATELESS_PREFIX + createHmac('sha256', this.branchKey).update(what).digest('hex').slice(0, 20);
  }

  close(): void {
    for (const op of this.ops.values()) op.close();
    this.ops.clear();
  }
}

function parseDuration(s: string | undefined): number | null {
  const m = /^(\d+)(ms|s)$/.exec(s ?? '');
  if (!m) return null;
  return m[2] === 's' ? Number(m[1]) * 1000 : Number(m[1]);
}

