// The UAS core's RFC 3261 duties with a fake transport, a fake control client and fake
// timers: 100 Trying (§8.2.6.1), 2xx retransmission until ACK and BYE on timer H
// (§13.3.1.4), CANCEL (§9.2), 481 for unknown dialogs (§12.2.2), 503 with no app routed.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { ControlConnection, ControlMessage } from '../../../src/sip/control/control-connection.ts';
import type { ControlServer } from '../../../src/sip/control/control-server.ts';
import { RouteRegistry } from '../../../src/sip/control/route-registry.ts';
import { SipCore } from '../../../src/sip/core/sip-core.ts';
import { parseMessage } from '../../../src/sip/message/parse-message.ts';
import type { SipMessage } from '../../../src/sip/message/sip-message.ts';
import type { ListeningPoint, Sender } from '../../../src/sip/transport/transport-layer.ts';
import type { Endpoint, Inbound, TransportName } from '../../../src/sip/transport/transport-types.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { TIMERS } from './fakes.ts';

class FakeSender implements Sender {
  sent: Array<{ dest: Endpoint; msg: SipMessage }> = [];
  send(dest: Endpoint, data: Buffer): { local: { address: string; port: number }; bytes: number } {
    this.sent.push({ dest, msg: parseMessage(data) });
    return { local: { address: '127.0.0.1', port: 5060 }, bytes: data.length };
  }
  localFor(transport: TransportName): ListeningPoint {
    return { transport, host: '127.0.0.1', port: 5060 };
  }
  statuses(): number[] {
    return this.sent.filter((s) => !s.msg.isRequest).map((s) => s.msg.status);
  }
  requests(method: string): SipMessage[] {
    return this.sent.filter((s) => s.msg.method === method).map((s) => s.msg);
  }
}

class FakeApp {
  readonly id = 'app-1';
  sent: string[] = [];
  replies: string[] = [];
  send(payload: string): void {
    this.sent.push(payload);
  }
  reply(rid: string, data: string): void {
    this.replies.push(`${rid}|${data}`);
  }
  /** The txnId of the last `sip|network|…` request notification. */
  lastTxnId(): string {
    const last = this.sent.filter((s) => s.startsWith('sip|')).at(-1) ?? '';
    const t = last.split('\r\n')[0].split('|');
    return t[7] === 'network' ? t[12] : t[7];
  }
}

function setup() {
  const sender = new FakeSender();
  const app = new FakeApp();
  const routes = new RouteRegistry();
  const core = new SipCore({ log: silentLogger(), timers: TIMERS, sender, listeningPoints: () => [] });
  const control = { routes, connection: (id: string) => (id === app.id ? app : undefined) } as unknown as ControlServer;
  core.attachControl(control);
  const conn = app as unknown as ControlConnection;
  const inbound = (text: string): void => {
    const data = Buffer.from(text.replace(/\r?\n/g, '\r\n'));
    const i: Inbound = { data, source: { transport: 'udp', address: '10.0.0.1', port: 5070 }, local: { address: '127.0.0.1', port: 5060 }, connectionId: null };
    core.onInbound(i);
  };
  const command = (line: string, sip: string): void => {
    const tokens = line.split('|');
    const msg: ControlMessage = { rid: tokens[0], tokens, body: sip.replace(/\r?\n/g, '\r\n') };
    core.command(conn, msg);
  };
  return { sender, app, routes, core, conn, inbound, command };
}

const INVITE = `INVITE sip:conf@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKinv1
Max-Forwards: 70
From: <sip:alice@10.0.0.1>;tag=a1
To: <sip:conf@127.0.0.1>
Call-ID: call-1
CSeq: 1 INVITE
Contact: <sip:alice@10.0.0.1:5070>
Content-Length: 0

`;

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

describe('SIP core as UAS', () => {
  it('answers 503 when no app routed the method', () => {
    const { sender, inbound } = setup();
    inbound(INVITE);
    assert.deepEqual(sender.statuses(), [503]);
  });

  it('sends 100 Trying at once and hands the INVITE to the app that routed it', () => {
    const { sender, app, routes, conn, inbound } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    assert.deepEqual(sender.statuses(), [100]);
    const head = app.sent[0].split('\r\n')[0].split('|');
    assert.deepEqual(head.slice(0, 6), ['sip', 'network', String(Buffer.byteLength(INVITE.replace(/\n/g, '\r\n'))), 'udp', '10.0.0.1', '5070']);
    assert.match(head[7], /^[0-9a-f-]{36}$/);
  });

  it('retransmits the app\'s 200 at T1, 2T1, 4T1 until the ACK, which reaches the app with the INVITE txnId', async () => {
    const { sender, app, routes, conn, inbound, command } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    const txnId = app.lastTxnId();
    command(`r1|sip|${txnId}|`, 'SIP/2.0 200 OK\nCall-ID: call-1\nCSeq: 1 INVITE\nFrom: <sip:alice@10.0.0.1>;tag=a1\nTo: <sip:conf@127.0.0.1>\nContent-Length: 0\n\n');
    const ok = sender.sent.at(-1)?.msg;
    assert.equal(ok?.status, 200);
    const toTag = ok?.to.params.get('tag');
    assert.ok(toTag, 'the server added a To tag');
    assert.ok(ok?.get('Contact'), 'the server added a Contact');
    assert.match(app.replies[0], new RegExp(`^r1\\|OK\\|application\\|\\d+\\|udp\\|10\\.0\\.0\\.1\\|5070\\|[^|]+\\|${txnId}\\|call-1;from-tag=a1\\|\\|Msg sent:\\|`));
    mock.timers.tick(500);
    mock.timers.tick(1000);
    mock.timers.tick(2000);
    assert.equal(sender.statuses().filter((s) => s === 200).length, 4);
    inbound(`ACK sip:conf@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKack1\nFrom: <sip:alice@10.0.0.1>;tag=a1\nTo: <sip:conf@127.0.0.1>;tag=${toTag}\nCall-ID: call-1\nCSeq: 1 ACK\nContent-Length: 0\n\n`);
    mock.timers.tick(60000);
    await flush();
    assert.equal(sender.statuses().filter((s) => s === 200).length, 4, 'no retransmission after the ACK');
    assert.equal(sender.requests('BYE').length, 0);
    const ack = app.sent.at(-1) ?? '';
    assert.match(ack.split('\r\n')[0], new RegExp(`\\|${txnId}\\|call-1;from-tag=a1\\|$`));
  });

  it('with no ACK, timer H (64*T1) sends a BYE with Reason "ACK timeout" and tells the app (unsolicited)', async () => {
    const { sender, app, routes, conn, inbound, command } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    command(`r1|sip|${app.lastTxnId()}|`, 'SIP/2.0 200 OK\nCall-ID: call-1\nCSeq: 1 INVITE\nFrom: <sip:alice@10.0.0.1>;tag=a1\nTo: <sip:conf@127.0.0.1>\nContent-Length: 0\n\n');
    mock.timers.tick(64 * 500 - 1);
    await flush();
    assert.equal(sender.requests('BYE').length, 0);
    mock.timers.tick(1);
    await flush();
    const bye = sender.requests('BYE')[0];
    assert.ok(bye, 'BYE sent');
    assert.equal(bye.uri, 'sip:alice@10.0.0.1:5070', 'to the remote target');
    assert.equal(bye.get('Reason'), 'SIP ;cause=200 ;text="ACK timeout"');
    assert.match(app.sent.at(-1) ?? '', /^sip\|application\|\d+\|udp\|127\.0\.0\.1\|5060\|[^|]+\|unsolicited\|call-1;from-tag=a1\|\r\nBYE /);
  });

  it("an INVITE the app never answers gets 500 at 64 s; one the app answered 180 to rings until timer C from that 180", () => {
    const { sender, app, routes, conn, inbound, command } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    mock.timers.tick(64000);
    assert.deepEqual(sender.statuses(), [100, 500], 'never answered');
    inbound(INVITE.replace('z9hG4bKinv1', 'z9hG4bKinv2').replace('call-1', 'call-2'));
    const txnId = app.lastTxnId();
    mock.timers.tick(10000);
    command(`r1|sip|${txnId}|`, 'SIP/2.0 180 Ringing\nCall-ID: call-2\nCSeq: 1 INVITE\nFrom: <sip:alice@10.0.0.1>;tag=a1\nTo: <sip:conf@127.0.0.1>\nContent-Length: 0\n\n');
    mock.timers.tick(181000 - 1);
    assert.deepEqual(sender.statuses().slice(2), [100, 180], 'still ringing past 64 s');
    mock.timers.tick(1);
    assert.deepEqual(sender.statuses().slice(2), [100, 180, 500]);
  });

  it('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, the CANCEL to the app', () => {
    const { sender, app, routes, conn, inbound } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    const txnId = app.lastTxnId();
    inbound(INVITE.replace('INVITE sip:', 'CANCEL sip:').replace('1 INVITE', '1 CANCEL'));
    assert.deepEqual(sender.statuses(), [100, 200, 487]);
    assert.match(app.sent.at(-1) ?? '', new RegExp(`\\|${txnId}\\|\\|\\r\\nCANCEL `));
  });

  it('a request inside an unknown dialog gets 481', () => {
    const { sender, inbound } = setup();
    inbound(INVITE.replace('INVITE sip:', 'BYE sip:').replace('1 INVITE', '2 BYE').replace('To: <sip:conf@127.0.0.1>', 'To: <sip:conf@127.0.0.1>;tag=zz'));
    assert.deepEqual(sender.statuses(), [481]);
  });

  it('a retransmitted INVITE is absorbed by its transaction, answered with the last response', () => {
    const { sender, routes, conn, app, inbound } = setup();
    routes.add('invite', conn);
    inbound(INVITE);
    inbound(INVITE);
    assert.deepEqual(sender.statuses(), [100, 100]);
    assert.equal(app.sent.length, 1, 'the app saw it once');
  });
});
