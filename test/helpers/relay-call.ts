// A call relayed by the header-edit rules between two raw UDP clients (RawSipClient): the
// caller sends the INVITE, the callee reads what the server forwards and answers by hand.
import type Srf from 'drachtio-srf';
import { defaultConfig } from '../../src/config/schema.ts';
import { RoutingTable } from '../../src/policy/routing-table.ts';
import type { RuleConfig } from '../../src/policy/rule-types.ts';
import { InboundRouter } from '../../src/signaling/inbound-router.ts';
import { request, type RawSipClient } from './raw-sip-client.ts';
import { DRACHTIO_BIN, startRealDrachtio } from './real-drachtio.ts';
import { SDP, startHarness, testLogger } from './sip-harness.ts';

/** The SIP server a relay suite runs on, with a drachtio-srf app connected to it. */
export interface RelayServer {
  srf: Srf;
  sipPort: number;
  close(): Promise<void> | void;
}

/**
 * Defines `suite` on the embedded SIP server and, when PARLEY_DRACHTIO_BIN names a built
 * drachtio-server (never in the test command), on a real one too; `realSkip`: why the real
 * server's run is skipped (a difference that is the server's).
 */
export function onEachServer(suite: (label: string, start: () => Promise<RelayServer>, skip?: string) => void, realSkip?: string): void {
  suite('embedded server', async () => {
    const h = await startHarness();
    return { srf: h.srf, sipPort: h.server.sipPort('udp'), close: () => h.close() };
  });
  if (!DRACHTIO_BIN) return;
  suite(
    'real drachtio-server',
    async () => {
      const d = await startRealDrachtio();
      return { srf: d.conn.srf, sipPort: d.sipPort, close: () => d.close() };
    },
    realSkip,
  );
}

/** The rule the relay suites route by: Ms-Target-Class removed, the INVITE proxied to the callee at `calleePort`. */
export function stripRule(calleePort: number): RuleConfig {
  return {
    name: 'strip',
    match: { headers: { 'Ms-Target-Class': { present: true } } },
    actions: [{ headers: { remove: ['Ms-Target-Class'] } }, { proxy: { targets: [`sip:bob@127.0.0.1:${calleePort}`] } }],
  };
}

/** Routes the app's INVITEs by `rules` alone (nothing proxied by default). */
export function attachRules(srf: Srf, rules: RuleConfig[]): void {
  new InboundRouter(srf, new RoutingTable({ ...defaultConfig.routing, proxyByDefault: false, rules }, {}), testLogger()).attach();
}

/** A response built from a request's headers (RFC 3261 §8.2.6.2), with a To tag; a Contact at `contactPort` given a body or a port. */
export function answer(req: string, status: string, body = '', contactPort = 0): string {
  const keep = req.split('\r\n').filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l));
  const to = req.split('\r\n').find((l) => /^To:/i.test(l))!;
  const extra = body || contactPort ? `Contact: <sip:callee@127.0.0.1:${contactPort}>\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}` : '';
  return `SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\n${/;tag=/.test(to) ? to : `${to};tag=callee1`}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The port of a request's top Via (where the server wants its responses). */
export const viaPort = (req: string): number => Number(/^Via: SIP\/2\.0\/UDP [^:]+:(\d+)/m.exec(req)![1]);

export interface RelayedCall {
  /** The caller's INVITE (its Call-ID in `callId`). */
  r: ReturnType<typeof request>;
  /** The forwarded INVITE the callee got. */
  invite: string;
  /** Where the callee answers (the server's Via port). */
  back: number;
  /** The caller's 200. */
  ok: string;
  /** The caller's dialog headers (Call-ID, From and To with tags) for its in-dialog requests. */
  dlg: Record<string, string>;
}

/**
 * The caller INVITEs with `headers` and SDP (port 40000); the callee answers 200 with SDP at 40002
 * and gets its ACK; the caller gets the 200 and ACKs it. The dialog is up on both sides.
 */
export async function relayedCall(caller: RawSipClient, callee: RawSipClient, sipPort: number, headers: Record<string, string>): Promise<RelayedCall> {
  const r = request('INVITE', caller.port, headers, SDP);
  caller.send(sipPort, r.text);
  const invite = await callee.nextMatching(/^INVITE /);
  const back = viaPort(invite);
  callee.send(back, answer(invite, '200 OK', SDP.replace('40000', '40002'), callee.port));
  await callee.nextMatching(/^ACK /);
  const ok = await caller.nextMatching(/^SIP\/2\.0 200 /);
  const dlg = {
    'Call-ID': r.callId,
    To: `<sip:parley@127.0.0.1>;tag=${/^To:.*;tag=([^;\s]+)/m.exec(ok)![1]}`,
    From: `<sip:raw@127.0.0.1:${caller.port}>;tag=${/^From:.*;tag=([^;\s]+)/m.exec(r.text)![1]}`,
  };
  caller.send(sipPort, request('ACK', caller.port, { ...dlg, CSeq: '1 ACK' }).text);
  return { r, invite, back, ok, dlg };
}
