// A caller's dialog driven by hand over UDP (RawSipClient), for e2e tests that send what
// real phones and PBXs send but SIPp scenarios make awkward: offerless re-INVITEs, answers
// in ACKs, odd offers mid-call. RTP sinks count what Parley sends to an address.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { tempApiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { contactUri, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCallee, type Peer } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

/** Parley for raw-dialog tests, per describe, with the control API on (assertNothingLeft asks it). */
export function rawParleyPerSuite(yaml: string): () => RunningParley {
  return parleyPerSuite(yaml + tempApiYaml('field-'));
}

/** Routing of every audio INVITE to the flow `app`, whose steps follow (YAML, indented four spaces). */
export function flowYaml(app: string, steps: string): string {
  return `
routing:
  rules: [{ name: ${app}, match: { method: INVITE, media: audio }, actions: [{ app: ${app} }] }]
flows:
  ${app}:
${steps}`;
}

/** A call held for `ms` of silence, then hung up by Parley (flow 'hold'). */
export const holdYaml = (ms: number): string => flowYaml('hold', `    - answer\n    - play: { tone: "silence:${ms}" }\n    - hangup\n`);

/**
 * A menu (flow `app`, after `answer`) that ends in flow 'five' on digit 5 (a hang-up, with
 * `fiveStatus` if the INVITE is still unanswered), in flow 'none' otherwise (30 s).
 */
export function menuFiveYaml(app: string, answer: string, fiveStatus?: number): string {
  return flowYaml(app, `    - ${answer}
    - menu:
        prompt: { tone: "silence:200" }
        branches: { "5": five }
        retries: 0
        timeout: 30
        fallback: none
  five:
    - hangup${fiveStatus === undefined ? '' : `: { status: ${fiveStatus} }`}
  none:
    - hangup${fiveStatus === undefined ? '' : ': { status: 404 }'}
`);
}

/** The menu of menuFiveYaml in flow 'pick', answered first. */
export const MENU_FIVE_YAML = menuFiveYaml('pick', 'answer');

/** Answers a bridge: the caller is bridged to its Request-URI (a callee SIPp, 10 s to answer). */
export const BRIDGE_YAML = flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10 }\n');

/** As BRIDGE_YAML, the call recorded from the answer on (flow 'xfer'). */
export const RECORDED_BRIDGE_YAML = flowYaml('xfer', '    - answer\n    - record: { action: start }\n    - bridge: { ringTimeout: 10 }\n');

/** The 200 OK to a request from Parley (a BYE): its Via, From, To, Call-ID and CSeq. */
export function okTo(req: string): string {
  return `SIP/2.0 200 OK\r\n${req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
}

/** Waits for Parley's BYE in call `callId` and answers it 200. */
export async function answerBye(ua: RawSipClient, sipPort: number, callId: string, ms = 15_000): Promise<void> {
  const bye = await ua.nextMatching(/^BYE /, ms, callId);
  ua.send(sipPort, okTo(bye));
}

/**
 * A caller by hand over UDP: a RawSipClient and a RawDialog named `name` to `user` (To `to`) on
 * Parley; `fn` runs the call; the client and the phone (its RTP peer, if any) are closed after it.
 */
export async function rawCall<T>(
  parley: RunningParley,
  d: { name: string; user?: string; to?: string; phone?: RtpPeer },
  fn: (c: RawDialog, ua: RawSipClient) => Promise<T>,
): Promise<T> {
  const ua = await RawSipClient.open();
  try {
    return await fn(new RawDialog(ua, parley.sipPort, d.name, d.user, d.to), ua);
  } finally {
    ua.close();
    await d.phone?.close();
  }
}

/**
 * A raw caller bridged (BRIDGE_YAML) to a SIPp callee running `scenario` that sends `calleeHz`: the
 * INVITE is answered 200 and the caller's PCMU phone aimed at the answer (not started); `fn` runs
 * the call; then the caller's BYE is answered 200, the callee's SIPp ends well, the call ends and
 * nothing of it is left.
 */
export async function rawCalleeCall(
  parley: RunningParley,
  d: { name: string; scenario: string; calleeHz: number; extra?: string[] },
  fn: (c: RawDialog, phone: RtpPeer, callee: Peer) => Promise<void>,
): Promise<void> {
  const callee = await startCallee(d.scenario, d.calleeHz, d.extra ?? []);
  try {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley);
    await rawCall(parley, { name: d.name, user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c) => {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      phone.useRemoteSdp(bodyOf(ok));
      await fn(c, phone, callee);
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      sippOk(await callee.done, 'callee');
      await ended;
      await assertNothingLeft(parley);
    });
  } finally {
    callee.kill();
    await callee.rtp.close();
  }
}

/** An SDP offer of PCMU and PCMA at 127.0.0.1:`port` (`extra`: more media-level lines). */
export function offerSdp(port: number, version = 1, extra: readonly string[] = []): string {
  return [
    'v=0', `o=- 7 ${version} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 0 8`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', ...extra, 'a=sendrecv',
  ].join('\r\n') + '\r\n';
}

export interface RtpSink {
  socket: dgram.Socket;
  port: number;
  packets: () => number;
}

/** A UDP socket on 127.0.0.1 counting the datagrams it receives. */
export async function rtpSink(): Promise<RtpSink> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  let n = 0;
  socket.on('message', () => n++);
  return { socket, port: socket.address().port, packets: () => n };
}

/** Polls `cond` every 50 ms until it holds or `ms` pass; whether it holds. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

export class RawDialog {
  cseq = 1;
  toTag = '';
  contact: string;
  readonly callId: string;

  /** `to`: the To URI (default `sip:<user>@127.0.0.1`, Parley itself). */
  constructor(
    readonly ua: RawSipClient,
    private readonly sipPort: number,
    name: string,
    user = 'hold',
    private readonly to = `sip:${user}@127.0.0.1`,
    /** Where Parley listens (another loopback address: a cluster node). */
    private readonly host = '127.0.0.1',
  ) {
    this.contact = `sip:${user}@${host}:${sipPort}`;
    this.callId = `raw-dialog-${name}-${process.pid}@127.0.0.1`;
  }

  /** A request; `branchOf` names the method whose branch it reuses (an ACK of a non-2xx reuses its INVITE's, RFC 3261 §17.1.1.3). */
  req(method: string, body = '', n = this.cseq, branchOf = method): string {
    return [
      `${method} ${this.contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.ua.port};branch=z9hG4bK-${this.callId.slice(11, 24).replace(/[^\w-]/g, '')}-${branchOf}-${n}`,
      'Max-Forwards: 70',
      `From: <sip:adv@127.0.0.1>;tag=adv-${process.pid}`,
      `To: <${this.to}>${this.toTag ? `;tag=${this.toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${n} ${method}`,
      `Contact: <sip:adv@127.0.0.1:${this.ua.port}>`,
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  }

  send(method: string, body = '', n = this.cseq, branchOf = method): void {
    this.sendText(this.req(method, body, n, branchOf));
  }

  /** A request of this dialog as text (req()'s, changed by the caller). */
  sendText(text: string): void {
    this.ua.send(this.sipPort, text, this.host);
  }

  /** The ACK of a non-2xx final response to INVITE `n` (same branch; the server stops retransmitting it). */
  ackFailure(n = this.cseq): void {
    this.send('ACK', '', n, 'INVITE');
  }

  /** Takes the To tag and Contact of a response that makes the dialog (a 2xx, a reliable 18x). */
  confirm(res: string): void {
    this.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(res)![1]!;
    this.contact = /\r\nContact:\s*<([^>]+)>/i.exec(res)![1]!;
  }

  /** The next final response to `cseq` ("2 BYE"; others, such as a retransmitted 200 of the INVITE, skipped). */
  async finalTo(cseq: string, ms = 10_000): Promise<string> {
    for (;;) {
      const m = await this.final(ms);
      if (new RegExp(`^CSeq:\\s*${cseq}\\r?$`, 'im').test(m)) return m;
    }
  }

  /** The next final response (skipping 1xx and requests). */
  final(ms = 10_000): Promise<string> {
    return this.ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, ms);
  }

  /** INVITE with `sdp`, then its final response; a 2xx is ACKed and confirms the dialog. Returns the final response. */
  async invite(sdp: string): Promise<string> {
    this.send('INVITE', sdp);
    const res = await this.final(15_000);
    if (/^SIP\/2\.0 2\d\d /.test(res)) {
      this.confirm(res);
      this.send('ACK', '', 1);
    } else this.ackFailure(1);
    return res;
  }

  /** invite() with `phone`'s offer, answered 200 (asserted); then `phone` sends Parley a tone of `hz`. */
  async inviteSendingTone(phone: RtpPeer, hz: number): Promise<string> {
    const ok = await this.invite(phone.sdp());
    assert.equal(statusOf(ok), 200, ok);
    phone.useRemoteSdp(bodyOf(ok));
    phone.start({ kind: 'tone', freq: hz, amplitude: 8000 });
    return ok;
  }
}

/** The status code of a response. */
export function statusOf(res: string): number {
  return Number(/^SIP\/2\.0 (\d{3}) /.exec(res)?.[1] ?? 0);
}

/** The body of a SIP message. */
export function bodyOf(msg: string): string {
  const i = msg.indexOf('\r\n\r\n');
  return i < 0 ? '' : msg.slice(i + 4);
}

/** A response to `req` (its Via, From, To, Call-ID and CSeq), with a To tag and, given a body, a Contact and SDP. */
export function responseTo(req: string, status: string, toTag: string, body = '', contactPort = 0): string {
  const lines = req.split('\r\n\r\n')[0]!.split('\r\n');
  const keep = lines.filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l));
  const to = lines.find((l) => /^To:/i.test(l))!;
  const extra = body || contactPort ? `Contact: <sip:callee@127.0.0.1:${contactPort}>\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}` : '';
  return `SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\n${/;tag=/.test(to) ? to : `${to};tag=${toTag}`}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Sends a PCMU packet of silence every 20 ms from `socket` to 127.0.0.1:`port`; returns the stop function. */
export function sendRtp(socket: dgram.Socket, port: number): () => void {
  let seq = 0;
  const ssrc = 0x1234abcd;
  const timer = setInterval(() => {
    const p = Buffer.alloc(172, 0xff);
    p[0] = 0x80;
    p[1] = 0;
    p.writeUInt16BE(seq & 0xffff, 2);
    p.writeUInt32BE((seq * 160) >>> 0, 4);
    p.writeUInt32BE(ssrc, 8);
    seq++;
    socket.send(p, port, '127.0.0.1');
  }, 20);
  return () => clearInterval(timer);
}

/** Where a request came from: its top Via's host and port (a cluster node's own address). */
export function viaOf(req: string): { host: string; port: number } {
  const m = /^Via:\s*SIP\/2\.0\/UDP ([^:;\s]+):(\d+)/im.exec(req)!;
  return { host: m[1]!, port: Number(m[2]) };
}

/** Sends `text` (a response) back to where `req` came from. */
export function replyTo(ua: RawSipClient, req: string, text: string): void {
  const from = viaOf(req);
  ua.send(from.port, text, from.host);
}

/** A request (no body) of the dialog Parley's INVITE `invite` made, from its callee (To tag `tag`), at `port`; `extra` header lines. */
export function calleeRequest(invite: string, tag: string, method: string, seq: number, port: number, extra: readonly string[] = []): string {
  return inDialogFrom(invite, tag, method, seq, port, contactUri(invite), 'x', '').replace(/\r\nContent-Type: x/, extra.map((l) => `\r\n${l}`).join(''));
}

/** An INVITE (CSeq `cseq`) from `ua` to `ruri` with `Replaces` and `Require: replaces`, offering `sdp`. */
export function replacingInvite(ua: RawSipClient, ruri: string, callId: string, replaces: string, sdp: string, cseq = 1): string {
  return [
    `INVITE ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-repl-${callId.replace(/\W/g, '')}-${cseq}`,
    'Max-Forwards: 70',
    `From: <sip:sup@127.0.0.1:${ua.port}>;tag=sup-new`,
    `To: <${ruri}>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} INVITE`,
    `Contact: <sip:sup@127.0.0.1:${ua.port}>`,
    `Replaces: ${replaces}`,
    'Require: replaces',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/**
 * A raw caller (on `callerUa`, its peer `caller` sending `callerHz`) calls `user` through Parley
 * at `host`:`sipPort` (default 127.0.0.1), To a raw callee on `calleeUa`: the flow answers (200,
 * ACKed, the caller's peer aimed at it), Parley's INVITE to the callee is answered 200 with
 * `callee`'s SDP (To tag `calleeTag`) and its ACK taken; then both peers send their tones.
 * `nextFromCallee` reads what reaches the callee (default: `calleeUa` itself).
 */
export async function rawBridgedCall(o: {
  sipPort: number;
  host?: string;
  name: string;
  user: string;
  callerUa: RawSipClient;
  calleeUa: RawSipClient;
  caller: RtpPeer;
  callee: RtpPeer;
  callerHz: number;
  calleeHz: number;
  calleeTag: string;
  nextFromCallee?: (re: RegExp) => Promise<string>;
}): Promise<{ c: RawDialog; invite: string }> {
  const c = new RawDialog(o.callerUa, o.sipPort, o.name, o.user, `sip:${o.user}@127.0.0.1:${o.calleeUa.port}`, o.host);
  const next = o.nextFromCallee ?? ((re: RegExp) => o.calleeUa.nextMatching(re, 15_000));
  c.send('INVITE', o.caller.sdp());
  const ok = await c.final(15_000);
  assert.equal(statusOf(ok), 200, ok);
  c.confirm(ok);
  c.send('ACK', '', 1);
  o.caller.useRemoteSdp(bodyOf(ok));
  const invite = await next(/^INVITE /);
  replyTo(o.calleeUa, invite, responseTo(invite, '200 OK', o.calleeTag, o.callee.sdp(), o.calleeUa.port));
  await next(/^ACK /);
  o.caller.start({ kind: 'tone', freq: o.callerHz, amplitude: 8000 });
  o.callee.start({ kind: 'tone', freq: o.calleeHz, amplitude: 8000 });
  return { c, invite };
}

/** A transferor's phone: answers Parley's NOTIFYs (200, back where each came from) and keeps them; hands on everything else. */
export class TransferorPhone {
  readonly notifies: string[] = [];
  private readonly others: string[] = [];
  private closed = false;

  constructor(readonly ua: RawSipClient) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      const m = await this.ua.next(500).catch(() => null);
      if (m === null) continue;
      if (/^NOTIFY /.test(m)) {
        this.notifies.push(m);
        replyTo(this.ua, m, okTo(m));
      } else this.others.push(m);
    }
  }

  /** The next message other than a NOTIFY whose start line matches `re`. */
  next(re: RegExp, ms = 15_000): Promise<string> {
    return waitFor(`the transferor gets ${re}`, () => {
      const i = this.others.findIndex((m) => re.test(m.split('\r\n')[0]!));
      return i < 0 ? undefined : this.others.splice(i, 1)[0];
    }, ms);
  }

  /** Until the NOTIFY whose sipfrag is `200 OK` came. */
  toldDone(ms = 15_000): Promise<true> {
    return waitFor('NOTIFY 200 OK to the transferor', () => this.notifies.some((n) => /^SIP\/2\.0 200 OK/m.test(bodyOf(n))) || undefined, ms);
  }

  close(): void {
    this.closed = true;
  }
}
