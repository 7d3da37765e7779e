// The relay's dialog pair without a SIP server that runs timer H on a re-INVITE's 2xx (a
// real drachtio-server runs it on the first INVITE's only): a side whose offerless
// re-INVITE is answered and that never ACKs must still end, both sides with a BYE carrying
// the Reason, the other side's 2xx first ACKed with an answer refusing its offer. Fakes for
// the two drachtio-srf dialogs; fake timers.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type Srf from 'drachtio-srf';
import { DialogPair, refusingAnswer } from '../../../src/signaling/dialog-pair.ts';
import { silentLogger } from '../../../src/util/logger.ts';

const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40004 RTP/AVP 0 8\r\na=sendrecv\r\n';
const WAIT = 68 * 50;

class FakeDialog extends EventEmitter {
  readonly destroyed: Array<Record<string, string> | undefined> = [];
  readonly acks: string[] = [];
  destroy(opts: { headers?: Record<string, string> } | undefined, cb?: (err: unknown) => void): void {
    this.destroyed.push(opts?.headers);
    cb?.(null);
  }
  modify(_sdp: string, opts?: { noAck?: boolean }): Promise<unknown> {
    if (!opts?.noAck) return Promise.resolve(OFFER);
    return Promise.resolve({ sdp: OFFER, ack: (sdp: string) => this.acks.push(sdp) });
  }
}

const req = (cseq: string, body = ''): Srf.SrfRequest => ({ body, get: (h: string) => (h === 'CSeq' ? cseq : undefined) }) as unknown as Srf.SrfRequest;

async function offerless(a: FakeDialog): Promise<unknown[][]> {
  const sent: unknown[][] = [];
  a.emit('modify', req('2 INVITE'), { send: (...args: unknown[]) => sent.push(args) });
  for (let i = 0; i < 5 && sent.length === 0; i++) await Promise.resolve();
  return sent;
}

describe('DialogPair: an offerless re-INVITE whose ACK never comes', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('after the wait, the other side\'s 2xx is ACKed refusing its offer and both sides get a BYE with Reason ACK timeout', async () => {
    const a = new FakeDialog();
    const b = new FakeDialog();
    new DialogPair(a as unknown as Srf.Dialog, b as unknown as Srf.Dialog, silentLogger(), WAIT);
    const sent = await offerless(a);
    assert.equal(sent[0]?.[0], 200, 'the caller got the callee\'s offer in a 200');
    mock.timers.tick(WAIT - 1);
    assert.deepEqual([a.destroyed.length, b.destroyed.length, b.acks.length], [0, 0, 0], 'nothing before the wait is over');
    mock.timers.tick(1);
    assert.equal(b.acks.length, 1);
    assert.match(b.acks[0]!, /^m=audio 0 RTP\/AVP 0 8\r$/m, 'the ACK refuses the offer');
    assert.deepEqual(a.destroyed, [{ Reason: 'SIP ;cause=200 ;text="ACK timeout"' }]);
    assert.deepEqual(b.destroyed, [{ Reason: 'SIP ;cause=200 ;text="ACK timeout"' }]);
  });

  it('an ACK in time carries its answer on and nothing ends', async () => {
    const a = new FakeDialog();
    const b = new FakeDialog();
    new DialogPair(a as unknown as Srf.Dialog, b as unknown as Srf.Dialog, silentLogger(), WAIT);
    await offerless(a);
    a.emit('ack', req('2 ACK', 'answer-sdp'));
    mock.timers.tick(WAIT * 2);
    assert.deepEqual(b.acks, ['answer-sdp']);
    assert.deepEqual([a.destroyed.length, b.destroyed.length], [0, 0]);
  });

  it('a side the server ended (its timer H BYE) ends the other with the same Reason, after the refusing ACK', async () => {
    const a = new FakeDialog();
    const b = new FakeDialog();
    new DialogPair(a as unknown as Srf.Dialog, b as unknown as Srf.Dialog, silentLogger(), WAIT);
    await offerless(a);
    const bye = { method: 'BYE', source: 'application', get: (h: string) => (h === 'Reason' ? 'SIP ;cause=200 ;text="ACK timeout"' : undefined) };
    a.emit('destroy', bye);
    assert.equal(b.acks.length, 1);
    assert.deepEqual(a.destroyed, [], 'the gone side is not sent a BYE again');
    assert.deepEqual(b.destroyed, [{ Reason: 'SIP ;cause=200 ;text="ACK timeout"' }]);
    mock.timers.tick(WAIT * 2);
    assert.equal(b.destroyed.length, 1, 'the wait was let go');
  });

  it('refusingAnswer rejects every m-line with port 0 and keeps the rest', () => {
    assert.equal(refusingAnswer('v=0\nm=audio 4000/2 RTP/AVP 0\nm=video 5000 RTP/AVP 96\n'), 'v=0\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n');
  });
});

/** A fake dialog that records the requests sent in it and answers each with `status` and CSeq `seq++`. */
class RequestDialog extends FakeDialog {
  readonly sent: Array<{ method: string; headers: Record<string, string>; body?: string }> = [];
  seq = 40;
  request(opts: { method: string; headers: Record<string, string>; body?: string }): Promise<unknown> {
    this.sent.push(opts);
    const cseq = `${this.seq++} ${opts.method}`;
    return Promise.resolve({ status: opts.method === 'REFER' ? 202 : 200, get: (h: string) => (h === 'CSeq' ? cseq : undefined) });
  }
}

const withHeaders = (h: Record<string, string>, body = ''): Srf.SrfRequest => ({ body, get: (name: string) => h[name] }) as unknown as Srf.SrfRequest;

async function answered(d: EventEmitter, event: string, r: Srf.SrfRequest): Promise<unknown[]> {
  const sent: unknown[][] = [];
  d.emit(event, r, { send: (...args: unknown[]) => sent.push(args) });
  for (let i = 0; i < 10 && sent.length === 0; i++) await Promise.resolve();
  return sent[0] ?? [];
}

describe('DialogPair: a REFER and the NOTIFYs of its subscription (RFC 3515)', () => {
  it('the REFER goes on with its headers as sent, not Target-Dialog; each NOTIFY comes back naming the REFER of its side', async () => {
    const a = new RequestDialog();
    const b = new RequestDialog();
    new DialogPair(a as unknown as Srf.Dialog, b as unknown as Srf.Dialog, silentLogger(), WAIT);
    const referTo = '<sip:carol@example.com?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>';
    const res = await answered(a, 'refer', withHeaders({ CSeq: '7 REFER', 'Refer-To': referTo, 'Referred-By': '<sip:alice@example.com>', 'Target-Dialog': 'x;local-tag=1;remote-tag=2' }));
    assert.equal(res[0], 202);
    assert.deepEqual(b.sent[0], { method: 'REFER', headers: { 'Refer-To': referTo, 'Referred-By': '<sip:alice@example.com>' } });
    // b's REFER had CSeq 40: a NOTIFY naming it, and one naming none (the first REFER of b's dialog), name a's 7.
    for (const event of ['refer;id=40', 'refer']) {
      const n = await answered(b, 'notify', withHeaders({ Event: event, 'Subscription-State': 'active;expires=60', 'Content-Type': 'message/sipfrag' }, 'SIP/2.0 100 Trying\r\n'));
      assert.equal(n[0], 200);
      assert.deepEqual(a.sent.at(-1), {
        method: 'NOTIFY',
        headers: { Event: 'refer;id=7', 'Subscription-State': 'active;expires=60', 'Content-Type': 'message/sipfrag' },
        body: 'SIP/2.0 100 Trying\r\n',
      });
    }
    // A second REFER (a's CSeq 9, b's 41): its NOTIFYs name 9, the first one's still 7.
    await answered(a, 'refer', withHeaders({ CSeq: '9 REFER', 'Refer-To': '<sip:dave@example.com>' }));
    await answered(b, 'notify', withHeaders({ Event: 'refer;id=41', 'Subscription-State': 'terminated' }, 'SIP/2.0 200 OK\r\n'));
    assert.equal(a.sent.at(-1)?.headers.Event, 'refer;id=9');
    await answered(b, 'notify', withHeaders({ Event: 'refer;id=40', 'Subscription-State': 'terminated' }, 'SIP/2.0 200 OK\r\n'));
    assert.equal(a.sent.at(-1)?.headers.Event, 'refer;id=7');
    // A NOTIFY of another event package is passed on as it is.
    await answered(b, 'notify', withHeaders({ Event: 'talk', 'Subscription-State': 'active' }));
    assert.equal(a.sent.at(-1)?.headers.Event, 'talk');
  });
});
