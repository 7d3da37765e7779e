// An INVITE that rang is not given up at 64*T1 (timer B runs in Calling only, RFC 3261
// §17.1.1.2): it rings until timer C (§16.6 step 11), then is CANCELled and answered 408
// (§16.8). A 2xx to an app's INVITE that came after it was given up (timer B, 64*T1 after its
// CANCEL) is ACKed and BYEd (§13.2.2.4), within timer C of the end. And a Record-Routed
// in-dialog request with Max-Forwards 0 gets 483 (§16.3 step 2).
// Small timers: T1 20 ms (64*T1 = 1.28 s), timer C 3 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RawSipClient, header, request } from '../../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../../helpers/relay-call.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

const T1 = 20;
const TIMER_C = 3000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ringing past 64*T1, timer C, Max-Forwards 0 on our Record-Route', () => {
  let h: Harness;
  let port: number;
  let caller: RawSipClient;
  let callee: RawSipClient;

  before(async () => {
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: T1, timerC: TIMER_C } });
    port = Number(h.target('udp').split(':')[1]);
    h.srf.invite((req) => {
      void (req as unknown as { proxy(o: Record<string, unknown>): Promise<unknown> }).proxy({ destination: `sip:callee@127.0.0.1:${callee.port}` });
    });
  });
  after(() => {
    caller?.close();
    callee?.close();
    h.close();
  });

  /** Fresh sockets per test: nothing left over from the last call's retransmissions. */
  async function openNext(): Promise<void> {
    caller?.close();
    callee?.close();
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
  }

  /** The caller's INVITE, proxied to the callee, who answers 180; the forwarded INVITE. */
  async function ringing(): Promise<{ callId: string; invite: string; sent: string }> {
    await openNext();
    const r = request('INVITE', caller.port, { To: `<sip:callee@127.0.0.1:${port}>` });
    caller.send(port, r.text);
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    await caller.nextMatching(/^SIP\/2\.0 180/, 3000, r.callId);
    return { callId: r.callId, invite, sent: r.text };
  }

  it('a proxied INVITE ringing past 64*T1 then answered connects (no 408 at 64*T1)', async () => {
    const { callId, invite } = await ringing();
    await sleep(64 * T1 + 700);
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d/, 3000, callId);
    assert.match(final, /^SIP\/2\.0 200/, 'the answer went through, no 408 came first');
  });

  it('a proxied INVITE ringing with no answer is CANCELled at timer C and answered 408', async () => {
    const start = Date.now();
    const { callId, invite } = await ringing();
    const cancel = await callee.nextMatching(/^CANCEL /, TIMER_C + 3000, callId);
    const at = Date.now() - start;
    assert.ok(at >= TIMER_C - 200, `CANCEL after timer C, not before (${at} ms)`);
    callee.send(viaPort(cancel), answer(cancel, '200 OK'));
    const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d/, 3000, callId);
    assert.match(final, /^SIP\/2\.0 408/);
    callee.send(viaPort(invite), answer(invite, '487 Request Terminated'));
  });

  it('an INVITE sent by the app (createUAC) ringing past 64*T1 then answered makes the dialog', async () => {
    await openNext();
    const uac = h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP });
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    await sleep(64 * T1 + 700);
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    const dialog = await uac;
    assert.ok(dialog, 'answered');
    await callee.nextMatching(/^ACK /, 3000, header(invite, 'Call-ID'));
    dialog.destroy();
  });

  it('an INVITE sent by the app ringing with no answer is CANCELled at timer C', async () => {
    await openNext();
    const start = Date.now();
    const uac = h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    const cancel = await callee.nextMatching(/^CANCEL /, TIMER_C + 3000, header(invite, 'Call-ID'));
    assert.ok(Date.now() - start >= TIMER_C - 200, 'not before timer C');
    callee.send(viaPort(cancel), answer(cancel, '200 OK'));
    callee.send(viaPort(invite), answer(invite, '487 Request Terminated'));
    assert.equal((await uac)?.status, 487);
  });

  it("an INVITE the app CANCELs (a ring timeout) whose CANCEL nobody answers (a proxy that restarted) ends 408 64*T1 later, not at timer C (§9.1)", async () => {
    await openNext();
    let cancelIt: () => void = () => undefined;
    const uac = h.srf
      // drachtio-srf calls cbRequest as (err, req), whatever its typings say.
      .createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }, { cbRequest: ((_err: unknown, req: { cancel(): void }) => void (cancelIt = () => req.cancel())) as unknown as (req: unknown) => void })
      .then(
        () => null,
        (e: { status?: number }) => e,
      );
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    await sleep(100);
    const start = Date.now();
    cancelIt();
    await callee.nextMatching(/^CANCEL /, 3000, header(invite, 'Call-ID'));
    // Nothing answers the CANCEL or the INVITE; the callee rings on.
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    assert.equal((await uac)?.status, 408);
    const took = Date.now() - start;
    assert.ok(took >= 64 * T1 - 50 && took < TIMER_C, `ended ${took} ms after the CANCEL`);
  });

  it("a proxied INVITE the caller CANCELs, whose CANCEL the callee's side never answers: the caller gets 487 64*T1 later", async () => {
    const { callId, invite, sent } = await ringing();
    const start = Date.now();
    // §9.1: the INVITE's Request-URI, Via, From, To, Call-ID and CSeq number.
    const head = sent.split('\r\n\r\n')[0]!.replace(/^INVITE /, 'CANCEL ').replace(/^CSeq:\s*(\d+) INVITE/im, 'CSeq: $1 CANCEL');
    const cancel = head.split('\r\n').filter((l) => !/^(Content-Type|Content-Length):/i.test(l)).join('\r\n') + '\r\nContent-Length: 0\r\n\r\n';
    caller.send(port, cancel);
    await callee.nextMatching(/^CANCEL /, 3000, header(invite, 'Call-ID'));
    const final = await caller.nextMatching(/^SIP\/2\.0 [3-6]\d\d/, TIMER_C + 3000, callId);
    assert.match(final, /^SIP\/2\.0 487/);
    const took = Date.now() - start;
    assert.ok(took < TIMER_C, `the caller's answer ${took} ms after its CANCEL, not at timer C`);
  });

  it('an INVITE sent by the app with no response at all still ends at 64*T1 (timer B)', async () => {
    await openNext();
    const start = Date.now();
    const err = await h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    assert.equal(err?.status, 408);
    assert.ok(Date.now() - start < TIMER_C, 'timer B, not timer C');
  });

  it('a 2xx to an app INVITE that ended at timer B (408) is ACKed and ended with a BYE (RFC 3261 §13.2.2.4)', async () => {
    await openNext();
    const err = await h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    assert.equal(err?.status, 408);
    const invite = await callee.nextMatching(/^INVITE /, 100);
    const callId = header(invite, 'Call-ID');
    // The callee answers at last: nobody would hear it, so it must not stay in the call.
    const ok = answer(invite, '200 OK', SDP, callee.port);
    callee.send(viaPort(invite), ok);
    const ack = await callee.nextMatching(/^ACK /, 3000, callId);
    assert.match(ack, /^ACK sip:callee@127\.0\.0\.1:\d+ /, 'to the 2xx\'s Contact');
    assert.match(header(ack, 'To'), /tag=callee1/);
    const bye = await callee.nextMatching(/^BYE /, 3000, callId);
    assert.match(header(bye, 'To'), /tag=callee1/);
    assert.equal(header(bye, 'CSeq').split(' ')[1], 'BYE');
    // A retransmission of the 2xx gets the ACK again, not a second BYE.
    callee.send(viaPort(invite), ok);
    await callee.nextMatching(/^ACK /, 3000, callId);
    callee.send(viaPort(bye), answer(bye, '200 OK'));
    await assert.rejects(callee.nextMatching(/^BYE /, 300, callId), 'one BYE only');
  });

  it('an INVITE given up is remembered for timer C only: a 2xx later than that is a stray, dropped', async () => {
    await openNext();
    const err = await h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    assert.equal(err?.status, 408);
    const invite = await callee.nextMatching(/^INVITE /, 100);
    await sleep(TIMER_C + 200);
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    await assert.rejects(callee.nextMatching(/^(ACK|BYE) /, 500, header(invite, 'Call-ID')), 'nothing sent');
  });

  it('a 2xx to an app INVITE whose CANCEL went unanswered (408 64*T1 later) is ACKed and ended with a BYE', async () => {
    await openNext();
    let cancelIt: () => void = () => undefined;
    const uac = h.srf
      .createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }, { cbRequest: ((_err: unknown, req: { cancel(): void }) => void (cancelIt = () => req.cancel())) as unknown as (req: unknown) => void })
      .then(
        () => null,
        (e: { status?: number }) => e,
      );
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    const callId = header(invite, 'Call-ID');
    callee.send(viaPort(invite), answer(invite, '180 Ringing'));
    await sleep(100);
    cancelIt();
    await callee.nextMatching(/^CANCEL /, 3000, callId);
    assert.equal((await uac)?.status, 408);
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    await callee.nextMatching(/^ACK /, 3000, callId);
    const bye = await callee.nextMatching(/^BYE /, 3000, callId);
    assert.match(header(bye, 'To'), /tag=callee1/);
    callee.send(viaPort(bye), answer(bye, '200 OK'));
  });

  it('a request on our Record-Route with Max-Forwards 0 gets 483; an ACK is dropped', async () => {
    await openNext();
    const over = { Route: `<sip:127.0.0.1:${port};lr>`, To: '<sip:callee@127.0.0.1>;tag=abc', 'Max-Forwards': '0' };
    const bye = request('BYE', caller.port, over);
    caller.send(port, bye.text.replace(/^BYE \S+/, `BYE sip:callee@127.0.0.1:${callee.port}`));
    const res = await caller.nextMatching(/^SIP\/2\.0 /, 3000, bye.callId);
    assert.match(res, /^SIP\/2\.0 483/);
    const ack = request('ACK', caller.port, over);
    caller.send(port, ack.text.replace(/^ACK \S+/, `ACK sip:callee@127.0.0.1:${callee.port}`));
    await assert.rejects(caller.next(500), 'no response to the ACK');
    await assert.rejects(callee.next(100), 'nothing forwarded');
  });
});
