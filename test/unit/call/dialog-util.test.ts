// The INVITE helpers SipCall and SiprecCall share: when the guard may end a call
// (inviteDeadReason) and what Parley's hang-up sends (hangupInvite), with fakes
// for the dialog and the INVITE's response.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type Srf from 'drachtio-srf';
import { ACK_TIMEOUT_REASON, answerReoffers, createUas, hangupInvite, inviteDeadReason, sameSession, type InviteState } from '../../../src/call/dialog-util.ts';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import { silentLogger } from '../../../src/util/logger.ts';

class FakeRes {
  finalResponseSent = false;
  readonly sent: unknown[][] = [];
  send(...args: unknown[]): void {
    this.sent.push(args);
    this.finalResponseSent = true;
  }
}

class FakeDialog {
  connected = true;
  destroyed = 0;
  headers: Record<string, string> | undefined;
  destroy(opts: { headers?: Record<string, string> } | undefined, cb?: (err: unknown) => void): void {
    this.destroyed++;
    this.headers = opts?.headers;
    this.connected = false;
    cb?.(null);
  }
}

function state(over: Partial<{ ended: boolean; answering: boolean; uas: FakeDialog | null; res: FakeRes; canceled: boolean; createdAt: number }> = {}): InviteState {
  const s = { ended: false, answering: false, uas: null, res: new FakeRes(), canceled: false, createdAt: 1_000, ...over };
  return { ...s, uas: s.uas as unknown as Srf.Dialog | null, res: s.res as unknown as Srf.SrfResponse };
}

describe('inviteDeadReason', () => {
  it('keeps an ended, answering, connected or young unanswered call', () => {
    assert.equal(inviteDeadReason(state({ ended: true, canceled: true }), 10_000_000, 1_000), null);
    assert.equal(inviteDeadReason(state({ answering: true, canceled: true }), 10_000_000, 1_000), null);
    assert.equal(inviteDeadReason(state({ uas: new FakeDialog() }), 10_000_000, 1_000), null);
    assert.equal(inviteDeadReason(state(), 1_900, 1_000), null);
  });

  it('names why a call is dead: its dialog gone, canceled, a final response out, unanswered too long', () => {
    const gone = new FakeDialog();
    gone.connected = false;
    assert.equal(inviteDeadReason(state({ uas: gone }), 2_000, 1_000), 'its dialog is gone');
    assert.equal(inviteDeadReason(state({ canceled: true }), 1_001, 1_000), 'its INVITE was canceled');
    const res = new FakeRes();
    res.finalResponseSent = true;
    assert.equal(inviteDeadReason(state({ res }), 1_001, 1_000), 'its INVITE got a final response');
    assert.equal(inviteDeadReason(state(), 4_600, 3_000), 'unanswered for 4 s');
  });
});

describe('hangupInvite', () => {
  it('a confirmed call gets a BYE and no response', () => {
    const uas = new FakeDialog();
    const res = new FakeRes();
    assert.equal(hangupInvite(state({ uas, res }), silentLogger()), 'hung up by Parley');
    assert.equal(uas.destroyed, 1);
    assert.deepEqual(res.sent, []);
    assert.equal(uas.headers, undefined, 'a plain hang-up says no Reason');
  });

  it('a confirmed call hung up with a failure status says it in the BYE (Reason: SIP;cause=…, RFC 3326)', () => {
    const uas = new FakeDialog();
    hangupInvite(state({ uas, res: new FakeRes() }), silentLogger(), 486, 'Busy "Here"');
    assert.deepEqual(uas.headers, { Reason: 'SIP;cause=486;text="Busy Here"' });
    const bare = new FakeDialog();
    hangupInvite(state({ uas: bare, res: new FakeRes() }), silentLogger(), 603);
    assert.deepEqual(bare.headers, { Reason: 'SIP;cause=603' });
  });

  it('an unanswered call gets 480, or the status and reason phrase given', () => {
    const plain = new FakeRes();
    assert.equal(hangupInvite(state({ res: plain }), silentLogger()), 'rejected 480');
    assert.deepEqual(plain.sent, [[480]]);
    const busy = new FakeRes();
    assert.equal(hangupInvite(state({ res: busy }), silentLogger(), 486, 'Busy Here'), 'rejected 486');
    assert.deepEqual(busy.sent, [[486, 'Busy Here', {}]]);
  });

  it('sends nothing when the INVITE already has its final response', () => {
    const res = new FakeRes();
    res.finalResponseSent = true;
    assert.equal(hangupInvite(state({ res }), silentLogger(), 503), 'rejected 503');
    assert.deepEqual(res.sent, []);
  });
});

describe('sameSession', () => {
  const sdp = 'v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  it('ignores the o= line and line endings; any other difference is another session', () => {
    assert.equal(sameSession(sdp, sdp.replace('o=bob 1 1', 'o=bob 1 2')), true);
    assert.equal(sameSession(sdp, sdp.replace(/\r\n/g, '\n') + '\n'), true);
    assert.equal(sameSession(sdp, sdp.replace('m=audio 4000', 'm=audio 4002')), false);
    assert.equal(sameSession(sdp, sdp.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 127.0.0.2')), false);
  });
});

/** A drachtio-srf dialog as answerReoffers uses it: events, `local`, `connected`, destroy. */
class EventDialog extends EventEmitter {
  connected = true;
  local = { sdp: '' };
  readonly destroyed: Array<Record<string, string> | undefined> = [];
  destroy(opts: { headers?: Record<string, string> } | undefined, cb?: (err: unknown) => void): void {
    this.destroyed.push(opts?.headers);
    this.connected = false;
    cb?.(null);
  }
}

/** A media leg as answerReoffers uses it. */
class FakeLeg extends EventEmitter {
  isClosed = false;
  localSdp = 'current';
  media = { codec: 'PCMA' };
  readonly answers: string[] = [];
  /** What the leg was asked, in order: `offer <n>` (its n-th re-offer), `answer <sdp>`. */
  readonly steps: string[] = [];
  private offers = 0;
  /** The offers it was given (applyOffer), in order. */
  readonly offered: string[] = [];
  applyOffer(sdp: string): Promise<string> {
    this.offered.push(sdp);
    return Promise.resolve(`answer to ${sdp}`);
  }
  makeReoffer(): Promise<string> {
    this.steps.push(`offer ${++this.offers}`);
    return Promise.resolve('v=0\r\nm=audio 4000 RTP/AVP 0 8 9 101\r\n');
  }
  applyAnswer(sdp: string): Promise<void> {
    this.answers.push(sdp);
    this.steps.push(`answer ${sdp}`);
    return Promise.resolve();
  }
  close(): void {
    this.isClosed = true;
    this.emit('close', 'closed');
  }
}

describe('answerReoffers: the ACK of an offerless re-INVITE that never comes', () => {
  const WAIT = 68 * 50;
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const req = (cseq: string, body = ''): Srf.SrfRequest => ({ body, get: (h: string) => (h === 'CSeq' ? cseq : undefined) }) as unknown as Srf.SrfRequest;
  async function reinvite(d: EventDialog): Promise<unknown[][]> {
    const sent: unknown[][] = [];
    d.emit('modify', req('2 INVITE'), { send: (...args: unknown[]) => sent.push(args) });
    for (let i = 0; i < 20 && sent.length === 0; i++) await Promise.resolve();
    return sent;
  }
  /** A dialog answered by answerReoffers: its leg, the calls' ends, and every response sent through `res`. */
  function answering(offerInAckOf?: number): { d: EventDialog; leg: FakeLeg; ends: string[][]; sent: unknown[][]; res: { send: (...args: unknown[]) => number } } {
    const d = new EventDialog();
    const leg = new FakeLeg();
    const ends: string[][] = [];
    answerReoffers(d as unknown as Srf.Dialog, leg as unknown as MediaLeg, silentLogger(), { ackWaitMs: WAIT, onEnd: (reason, why) => ends.push([reason, why]), offerInAckOf });
    const sent: unknown[][] = [];
    return { d, leg, ends, sent, res: { send: (...args: unknown[]) => sent.push(args) } };
  }
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };

  it('without a server that runs timer H on it, Parley ends the call after 68*T1 with Reason ACK timeout (a full offer went out)', async () => {
    const d = new EventDialog();
    const leg = new FakeLeg();
    const ends: string[][] = [];
    answerReoffers(d as unknown as Srf.Dialog, leg as unknown as MediaLeg, silentLogger(), { ackWaitMs: WAIT, onEnd: (reason, why) => ends.push([reason, why]) });
    const sent = await reinvite(d);
    assert.equal(sent[0]?.[0], 200);
    assert.match(String((sent[0]?.[1] as { body: string }).body), /RTP\/AVP 0 8 9 101/, 'the 200 carries the full offer');
    mock.timers.tick(WAIT - 1);
    assert.deepEqual(ends, []);
    mock.timers.tick(1);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]![0], ACK_TIMEOUT_REASON);
  });

  it('without onEnd the dialog gets the BYE with the Reason and the leg is closed', async () => {
    const d = new EventDialog();
    const leg = new FakeLeg();
    answerReoffers(d as unknown as Srf.Dialog, leg as unknown as MediaLeg, silentLogger(), { ackWaitMs: WAIT });
    await reinvite(d);
    mock.timers.tick(WAIT);
    assert.deepEqual(d.destroyed, [{ Reason: ACK_TIMEOUT_REASON }]);
    assert.equal(leg.isClosed, true);
  });

  it('an ACK with the answer in time, or the dialog or leg ending first, stops the wait', async () => {
    for (const how of ['ack', 'destroy', 'close'] as const) {
      const d = new EventDialog();
      const leg = new FakeLeg();
      const ends: string[][] = [];
      answerReoffers(d as unknown as Srf.Dialog, leg as unknown as MediaLeg, silentLogger(), { ackWaitMs: WAIT, onEnd: (reason, why) => ends.push([reason, why]) });
      await reinvite(d);
      if (how === 'ack') d.emit('ack', req('2 ACK', 'v=0\r\nm=audio 5000 RTP/AVP 8\r\n'));
      else if (how === 'destroy') d.emit('destroy');
      else leg.close();
      mock.timers.tick(WAIT * 2);
      assert.deepEqual(ends, [], how);
      if (how === 'ack') assert.deepEqual(leg.answers, ['v=0\r\nm=audio 5000 RTP/AVP 8\r\n']);
    }
  });

  /** Past the setImmediate turns drachtio-srf's late 'ack' and the glare check take. */
  const turns = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setImmediate(r));
      await settle();
    }
  };

  it('a re-INVITE that comes before the ACK of the last 200 (drachtio-srf emits ack a turn late) waits for it: each answer goes to its own offer', async () => {
    const { d, leg, ends, sent, res } = answering();
    d.emit('modify', req('2 INVITE'), res);
    await settle();
    assert.equal(sent.length, 1);
    // The peer sent ACK 2 and then INVITE 3; the app hears of INVITE 3 at once, of ACK 2 a turn later.
    d.emit('modify', req('3 INVITE'), res);
    setImmediate(() => d.emit('ack', req('2 ACK', 'answer-2')));
    await settle();
    assert.equal(sent.length, 1, 'no 200 to INVITE 3 before the answer in ACK 2 is applied');
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [200, 200]);
    d.emit('ack', req('3 ACK', 'answer-3'));
    await settle();
    assert.deepEqual(leg.steps, ['offer 1', 'answer answer-2', 'offer 2', 'answer answer-3'], 'each offer made after the answer to the last one');
    assert.deepEqual(ends, []);
  });

  it('a re-INVITE or an UPDATE offer while the ACK of the last 200 has not come gets 491; that ACK still counts (a real drachtio-server hands such a request to the app)', async () => {
    const { d, leg, ends, sent, res } = answering();
    d.emit('modify', req('2 INVITE'), res);
    await settle();
    d.emit('modify', req('3 INVITE'), res);
    d.emit('update', req('4 UPDATE', 'offer-4'), res);
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [200, 491, 491], 'glare: 491 at once, not a wait for the ACK');
    d.emit('ack', req('2 ACK', 'answer-2'));
    await settle();
    assert.deepEqual(leg.steps, ['offer 1', 'answer answer-2']);
    d.emit('modify', req('5 INVITE'), res);
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [200, 491, 491, 200], 'after the ACK, the next re-INVITE is answered');
    assert.deepEqual(ends, []);
  });

  it('a delayed offer (our offer in the first 200): a re-INVITE or UPDATE offer before that ACK gets 491, after it the offer is taken', async () => {
    const { d, leg, ends, sent, res } = answering(1);
    d.emit('modify', req('2 INVITE', 'offer-2'), res);
    d.emit('update', req('3 UPDATE', 'offer-3'), res);
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [491, 491], 'glare with the offer in the 200 (RFC 3261 §14.2)');
    assert.deepEqual(leg.offered, [], 'the leg took no offer');
    d.emit('ack', req('1 ACK', 'answer-1'));
    await settle();
    d.emit('modify', req('4 INVITE', 'offer-4'), res);
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [491, 491, 200]);
    assert.deepEqual(leg.offered, ['offer-4']);
    assert.deepEqual(ends, []);
  });

  it('a re-INVITE offer before the ACK of a 200 that answered an offer is taken (RFC 5407 §3.1.4: that exchange is complete)', async () => {
    const { d, leg, sent, res } = answering();
    d.emit('modify', req('2 INVITE', 'offer-2'), res);
    await turns();
    d.emit('modify', req('3 INVITE', 'offer-3'), res);
    await turns();
    assert.deepEqual(sent.map((a) => a[0]), [200, 200]);
    assert.deepEqual(leg.offered, ['offer-2', 'offer-3']);
  });

  it('a request waiting for an answer that never comes gets 487 when the dialog ends', async () => {
    const { d, leg, ends, sent, res } = answering();
    d.emit('modify', req('2 INVITE'), res);
    await settle();
    d.emit('modify', req('3 INVITE'), res);
    setImmediate(() => d.emit('ack', req('2 ACK', '')));
    await turns();
    assert.equal(ends.length, 1, 'an ACK without an answer ends the call');
    assert.deepEqual(sent.map((a) => a[0]), [200, 487]);
    assert.deepEqual(leg.steps, ['offer 1'], 'no offer for a dialog that is ending');
  });
});

describe('createUas: the dialog\'s listeners are on before drachtio-srf handles another message', () => {
  it('a re-INVITE drachtio-srf emits right after handing the dialog over (same read) reaches the listener', async () => {
    const d = new EventDialog();
    const got: string[] = [];
    // As drachtio-srf does: the callback gets the dialog, and the next message in the same read
    // (here a re-INVITE) is emitted in that turn, before any promise continuation.
    const srf = {
      createUAS: (_req: unknown, _res: unknown, _opts: unknown, cb: (err: unknown, dialog: EventDialog) => void) => {
        cb(null, d);
        d.emit('modify', { body: '' }, { send: () => 0 });
      },
    } as unknown as Srf;
    const dialog = await createUas(srf, {} as Srf.SrfRequest, {} as Srf.SrfResponse, { localSdp: 'v=0' }, (x) => x.on('modify', () => got.push('attached')));
    // The former way (`await srf.createUAS()` and listeners after): too late for that re-INVITE.
    dialog.on('modify', () => got.push('after await'));
    assert.deepEqual(got, ['attached']);
  });

  it('an error from createUAS rejects, and nothing is attached', async () => {
    let attached = false;
    const srf = { createUAS: (_a: unknown, _b: unknown, _c: unknown, cb: (err: unknown) => void) => cb(new Error('487')) } as unknown as Srf;
    await assert.rejects(createUas(srf, {} as Srf.SrfRequest, {} as Srf.SrfResponse, { localSdp: 'v=0' }, () => (attached = true)), /487/);
    assert.equal(attached, false);
  });
});
