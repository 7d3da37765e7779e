// The INVITE helpers SipCall and SiprecCall share: when the guard may end a call
// (inviteDeadReason) and what Parley's hang-up sends (hangupInvite), with fakes
// for the dialog and the INVITE's response.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { hangupInvite, inviteDeadReason, sameSession, type InviteState } from '../../../src/call/dialog-util.ts';
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
  destroy(_opts: unknown, cb?: (err: unknown) => void): void {
    this.destroyed++;
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
