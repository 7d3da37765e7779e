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
