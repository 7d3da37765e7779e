// RFC 3261 §17.1 client transactions, with a fake transport and fake timers.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { InviteClientTransaction } from '../../../src/sip/transaction/invite-client-transaction.ts';
import { NonInviteClientTransaction } from '../../../src/sip/transaction/non-invite-client-transaction.ts';
import { FakeTransport, RecordingUser, TIMERS, invite, nonInvite, response } from './fakes.ts';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

/** Timers A and E retransmit in the check phase after they fire (afterPoll); setImmediate is not mocked. */
const polled = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Advances the fake clock, then lets a deferred retransmission run. */
async function tick(ms: number): Promise<void> {
  mock.timers.tick(ms);
  await polled();
}

/** An INVITE client transaction, started; `clock` (ms), when given, is the clock it reads (the fake setTimeout still fires on time, so the test can say how late the loop ran). */
function ict(reliable = false, clock?: () => number) {
  const t = new FakeTransport();
  const u = new RecordingUser();
  const req = invite();
  const txn = new InviteClientTransaction(req, t.send, reliable, clock ? { ...TIMERS, clock } : TIMERS, u);
  txn.start();
  return { t, u, req, txn };
}

describe('INVITE client transaction (§17.1.1)', () => {
  it('over UDP retransmits the INVITE at T1, 2T1, 4T1… (timer A)', async () => {
    const { t } = ict();
    assert.equal(t.count(), 1);
    await tick(500);
    assert.equal(t.count(), 2);
    await tick(999);
    assert.equal(t.count(), 2);
    await tick(1);
    assert.equal(t.count(), 3);
    await tick(2000);
    assert.equal(t.count(), 4);
  });

  it('timer A fired by a lagging loop does not resend when a response is read in the same iteration', async () => {
    // The loop lagged past T1: timers run before the poll phase that reads the 180 and the 200.
    const { t, u, req, txn } = ict();
    mock.timers.tick(500);
    txn.receiveResponse(response(req, 180));
    txn.receiveResponse(response(req, 200));
    await polled();
    assert.equal(t.count(), 1, 'the INVITE was not sent again');
    assert.equal(u.responses.length, 2);
    assert.equal(txn.state.value, 'accepted');
    // and no later retransmission is armed
    await tick(64 * 500);
    assert.equal(t.count(), 1);
  });

  it('timer A fired with nothing received resends once the loop has polled, then keeps doubling', async () => {
    const { t } = ict();
    mock.timers.tick(500);
    assert.equal(t.count(), 1, 'not in the timers phase itself');
    await polled();
    assert.equal(t.count(), 2);
    await tick(1000);
    assert.equal(t.count(), 3);
  });

  it('timer A that ran late (the loop stalled) waits as long again for queued responses, then resends if none came', async () => {
    // A clock the test moves: the fake setTimeout fires on time, the clock says the loop was late.
    let clock = 0;
    const { t } = ict(false, () => clock);
    clock = 1300; // timer A (due at 500) runs 800 ms late
    await tick(500);
    assert.equal(t.count(), 1, 'not resent at once: the loop may still be reading what came during the stall');
    clock = 2100;
    await tick(800);
    assert.equal(t.count(), 2, 'resent once it waited as long as the loop lagged, with nothing received');
    // the next interval (2 T1) is on time again
    clock = 3100;
    await tick(1000);
    assert.equal(t.count(), 3);
  });

  it('timer A keeps waiting while the loop stays behind, T2 in all at most', async () => {
    let clock = 0;
    const { t, txn } = ict(false, () => clock);
    clock = 1300; // 800 ms late: waits 800
    await tick(500);
    clock = 2900; // late again by 800: waits 800 more
    await tick(800);
    assert.equal(t.count(), 1);
    clock = 3700; // on time
    await tick(800);
    assert.equal(t.count(), 2);
    // A loop that never catches up still gets a retransmission after T2 (4 s) of waiting.
    clock = 10_000; // timer A (1 s) runs 5.3 s late
    await tick(1000);
    clock = 20_000;
    await tick(4000);
    assert.equal(t.count(), 3);
    assert.equal(txn.state.value, 'calling');
  });

  it('timer A that ran late does not resend when the 180 is read while it waits for the loop', async () => {
    let clock = 0;
    const { t, req, txn } = ict(false, () => clock);
    clock = 1500;
    await tick(500);
    txn.receiveResponse(response(req, 180)); // read a few loop turns later, behind other datagrams
    clock = 2500;
    await tick(1000);
    assert.equal(t.count(), 1);
    assert.equal(txn.state.value, 'proceeding');
  });

  it('a transaction terminated before the deferred retransmission sends nothing', async () => {
    const { t, txn } = ict();
    mock.timers.tick(500);
    txn.terminate();
    await polled();
    assert.equal(t.count(), 1);
  });

  it('over a reliable transport does not retransmit (timer A not set)', () => {
    const { t } = ict(true);
    mock.timers.tick(10000);
    assert.equal(t.count(), 1);
  });

  it('times out after 64*T1 with no response (timer B) and tells the TU', () => {
    const { u, txn } = ict();
    mock.timers.tick(64 * 500 - 1);
    assert.equal(u.timeouts, 0);
    mock.timers.tick(1);
    assert.equal(u.timeouts, 1);
    assert.equal(txn.state.value, 'terminated');
  });

  it('a provisional response stops timer B (§17.1.1.2): no timeout at 64*T1 in Proceeding', () => {
    const { u, req, txn } = ict();
    mock.timers.tick(1000);
    txn.receiveResponse(response(req, 180));
    mock.timers.tick(64 * 500 * 2);
    assert.equal(u.timeouts, 0);
    assert.equal(txn.state.value, 'proceeding');
    txn.receiveResponse(response(req, 200, 'tag200'));
    assert.equal(txn.state.value, 'accepted');
  });

  it('timer C (reset by each provisional) tells the TU to CANCEL, then times out 64*T1 later', () => {
    const t = new FakeTransport();
    const u = new RecordingUser();
    const req = invite();
    const txn = new InviteClientTransaction(req, t.send, false, { ...TIMERS, timerC: 10000 }, u);
    txn.start();
    txn.receiveResponse(response(req, 180));
    mock.timers.tick(9000);
    txn.receiveResponse(response(req, 183));
    mock.timers.tick(9999);
    assert.equal(u.timerC, 0, 'the 183 restarted timer C');
    mock.timers.tick(1);
    assert.equal(u.timerC, 1);
    assert.equal(u.timeouts, 0);
    mock.timers.tick(64 * 500);
    assert.equal(u.timeouts, 1);
    assert.equal(txn.state.value, 'terminated');
  });

  it('timer C defaults to more than 3 minutes', () => {
    const { u, req, txn } = ict();
    txn.receiveResponse(response(req, 180));
    mock.timers.tick(180000);
    assert.equal(u.timerC, 0);
    mock.timers.tick(1000);
    assert.equal(u.timerC, 1);
  });

  it("the TU's CANCEL with no final response within 64*T1 ends the INVITE (§9.1), provisionals after it notwithstanding; once", () => {
    const { u, req, txn } = ict();
    txn.receiveResponse(response(req, 180));
    mock.timers.tick(5000);
    txn.cancelSent();
    mock.timers.tick(64 * 500 - 1000);
    txn.receiveResponse(response(req, 180)); // a proxy that lost the transaction: its callee rings on
    txn.cancelSent(); // a second CANCEL does not put the end off
    mock.timers.tick(999);
    assert.equal(u.timeouts, 0);
    mock.timers.tick(1);
    assert.equal(u.timeouts, 1);
    assert.equal(txn.state.value, 'terminated');
  });

  it('a final response after the CANCEL (its 487) ends the wait: no timeout later', () => {
    const { u, req, txn } = ict();
    txn.receiveResponse(response(req, 180));
    txn.cancelSent();
    txn.receiveResponse(response(req, 487, 'tag487'));
    mock.timers.tick(64 * 500 * 2);
    assert.equal(u.timeouts, 0);
    assert.equal(txn.state.value, 'terminated');
  });

  it('a provisional response stops retransmissions and is passed up', async () => {
    const { t, u, req, txn } = ict();
    txn.receiveResponse(response(req, 180));
    await tick(4000);
    assert.equal(t.count(), 1);
    assert.equal(u.responses.length, 1);
    assert.equal(txn.state.value, 'proceeding');
  });

  it('a 3xx-6xx response is ACKed by the transaction: same branch, Request-URI, To from the response, CSeq ACK', () => {
    const { t, u, req, txn } = ict();
    txn.receiveResponse(response(req, 486, 'tag486'));
    assert.equal(u.responses.length, 1);
    const ack = t.sent[1];
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.uri, req.uri);
    assert.equal(ack.topVia.params.get('branch'), req.topVia.params.get('branch'));
    assert.match(ack.get('To') ?? '', /tag=tag486/);
    assert.equal(ack.get('CSeq'), '1 ACK');
    assert.equal(txn.state.value, 'completed');
  });

  it('a retransmitted final response is answered with the ACK again and not passed up', () => {
    const { t, u, req, txn } = ict();
    const r = response(req, 486);
    txn.receiveResponse(r);
    txn.receiveResponse(r);
    assert.equal(u.responses.length, 1);
    assert.equal(t.count((m) => m.method === 'ACK'), 2);
  });

  it('stays completed for timer D (32 s) over UDP, 0 s over TCP', () => {
    const udp = ict();
    udp.txn.receiveResponse(response(udp.req, 500));
    mock.timers.tick(31999);
    assert.equal(udp.txn.state.value, 'completed');
    mock.timers.tick(1);
    assert.equal(udp.txn.state.value, 'terminated');
    const tcp = ict(true);
    tcp.txn.receiveResponse(response(tcp.req, 500));
    mock.timers.tick(0);
    assert.equal(tcp.txn.state.value, 'terminated');
  });

  it('a 2xx is passed up, not ACKed by the transaction, and retransmitted 2xx keep reaching the TU (RFC 6026)', () => {
    const { t, u, req, txn } = ict();
    const ok = response(req, 200);
    txn.receiveResponse(ok);
    txn.receiveResponse(ok);
    assert.equal(u.responses.length, 2);
    assert.equal(t.count((m) => m.method === 'ACK'), 0);
    assert.equal(txn.state.value, 'accepted');
    mock.timers.tick(64 * 500);
    assert.equal(txn.state.value, 'terminated');
  });

  it('a transport failure terminates the transaction and is reported (→ 503)', () => {
    const t = new FakeTransport();
    t.fail = true;
    const u = new RecordingUser();
    const txn = new InviteClientTransaction(invite(), t.send, false, TIMERS, u);
    txn.start();
    assert.equal(u.transportErrors, 1);
    assert.equal(txn.state.value, 'terminated');
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  function nict(reliable = false) {
    const t = new FakeTransport();
    const u = new RecordingUser();
    const req = nonInvite();
    const txn = new NonInviteClientTransaction(req, t.send, reliable, TIMERS, u);
    txn.start();
    return { t, u, req, txn };
  }

  it('timer E doubles from T1 up to T2', async () => {
    const { t } = nict();
    const at: number[] = [];
    let now = 0;
    for (let i = 0; i < 9000; i += 100) {
      await tick(100);
      now += 100;
      if (t.count() > at.length + 1) at.push(now);
    }
    // 500, 1500, 3500, 7500 (capped intervals of 4000 after 2000)
    assert.deepEqual(at.slice(0, 4), [500, 1500, 3500, 7500]);
  });

  it('after a provisional response, retransmits every T2', async () => {
    const { t, req, txn } = nict();
    txn.receiveResponse(response(req, 100));
    await tick(500); // timer E was armed at T1 before the 1xx
    const n = t.count();
    await tick(4000);
    assert.equal(t.count(), n + 1);
  });

  it('timer E fired by a lagging loop does not resend when the final response is read in the same iteration', async () => {
    const { t, req, txn } = nict();
    mock.timers.tick(500);
    txn.receiveResponse(response(req, 200));
    await polled();
    assert.equal(t.count(), 1);
    assert.equal(txn.state.value, 'completed');
  });

  it('times out after 64*T1 (timer F)', () => {
    const { u } = nict();
    mock.timers.tick(32000);
    assert.equal(u.timeouts, 1);
  });

  it('a final response completes it; retransmissions are absorbed; timer K = T4 on UDP', () => {
    const { u, req, txn } = nict();
    const ok = response(req, 200);
    txn.receiveResponse(ok);
    txn.receiveResponse(ok);
    assert.equal(u.responses.length, 1);
    mock.timers.tick(4999);
    assert.equal(txn.state.value, 'completed');
    mock.timers.tick(1);
    assert.equal(txn.state.value, 'terminated');
  });

  it('over TCP sends once and terminates at once after the final response (timer K = 0)', async () => {
    const { t, req, txn } = nict(true);
    await tick(10000);
    assert.equal(t.count(), 1);
    txn.receiveResponse(response(req, 200));
    mock.timers.tick(0);
    assert.equal(txn.state.value, 'terminated');
  });
});
