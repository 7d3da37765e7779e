// RFC 3261 §17.2 server transactions and the UAS core's 2xx retransmission (§13.3.1.4),
// with a fake transport and fake timers.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Uas2xxRetransmitter } from '../../../src/sip/dialog/uas-2xx-retransmitter.ts';
import { InviteServerTransaction } from '../../../src/sip/transaction/invite-server-transaction.ts';
import { NonInviteServerTransaction } from '../../../src/sip/transaction/non-invite-server-transaction.ts';
import { FakeTransport, RecordingUser, TIMERS, invite, nonInvite, response } from './fakes.ts';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

function ist(reliable = false) {
  const t = new FakeTransport();
  const u = new RecordingUser();
  const req = invite();
  const txn = new InviteServerTransaction(req, t.send, reliable, TIMERS, u);
  return { t, u, req, txn };
}

describe('INVITE server transaction (§17.2.1)', () => {
  it('a retransmitted INVITE is answered with the last provisional response', () => {
    const { t, req, txn } = ist();
    txn.respond(response(req, 100));
    txn.receiveRetransmission();
    assert.equal(t.count((m) => m.status === 100), 2);
  });

  it('a 3xx-6xx is retransmitted by timer G (T1 doubling to T2) until the ACK', () => {
    const { t, req, txn } = ist();
    txn.respond(response(req, 486));
    mock.timers.tick(500);
    assert.equal(t.count(), 2);
    mock.timers.tick(1000);
    assert.equal(t.count(), 3);
    mock.timers.tick(2000);
    assert.equal(t.count(), 4);
    mock.timers.tick(4000);
    assert.equal(t.count(), 5);
    mock.timers.tick(4000); // capped at T2
    assert.equal(t.count(), 6);
    assert.equal(txn.receiveAck(), true);
    assert.equal(txn.state.value, 'confirmed');
    mock.timers.tick(10000);
    assert.equal(t.count(), 6);
  });

  it('the ACK for a non-2xx is absorbed; confirmed lasts timer I (T4) then terminates', () => {
    const { u, req, txn } = ist();
    txn.respond(response(req, 486));
    txn.receiveAck();
    assert.equal(txn.receiveAck(), true, 'a retransmitted ACK is absorbed too');
    mock.timers.tick(4999);
    assert.equal(txn.state.value, 'confirmed');
    mock.timers.tick(1);
    assert.equal(txn.state.value, 'terminated');
    assert.equal(u.terminated, 1);
  });

  it('with no ACK, timer H (64*T1) ends it and tells the TU', () => {
    const { u, req, txn } = ist();
    txn.respond(response(req, 486));
    mock.timers.tick(32000);
    assert.equal(u.timeouts, 1);
    assert.equal(txn.state.value, 'terminated');
  });

  it('over TCP a final response is not retransmitted (no timer G)', () => {
    const { t, req, txn } = ist(true);
    txn.respond(response(req, 486));
    mock.timers.tick(31000);
    assert.equal(t.count(), 1);
  });

  it('a 2xx moves it to accepted (RFC 6026); retransmitted INVITEs are absorbed, not answered', () => {
    const { t, req, txn } = ist();
    txn.respond(response(req, 200));
    assert.equal(txn.state.value, 'accepted');
    txn.receiveRetransmission();
    assert.equal(t.count(), 1);
    mock.timers.tick(32000);
    assert.equal(txn.state.value, 'terminated');
  });

  it('a second final response is an illegal move and throws', () => {
    const { req, txn } = ist();
    txn.respond(response(req, 486));
    assert.throws(() => txn.respond(response(req, 200)), /cannot send/);
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  function nist(reliable = false) {
    const t = new FakeTransport();
    const u = new RecordingUser();
    const req = nonInvite();
    return { t, u, req, txn: new NonInviteServerTransaction(req, t.send, reliable, TIMERS, u) };
  }

  it('a retransmission while trying is absorbed', () => {
    const { t, txn } = nist();
    txn.receiveRetransmission();
    assert.equal(t.count(), 0);
  });

  it('retransmissions are answered with the last response in proceeding and completed', () => {
    const { t, req, txn } = nist();
    txn.respond(response(req, 100));
    txn.receiveRetransmission();
    assert.equal(t.count((m) => m.status === 100), 2);
    txn.respond(response(req, 200));
    txn.receiveRetransmission();
    assert.equal(t.count((m) => m.status === 200), 2);
  });

  it('completed lasts timer J (64*T1) on UDP and 0 on TCP', () => {
    const udp = nist();
    udp.txn.respond(response(udp.req, 200));
    mock.timers.tick(31999);
    assert.equal(udp.txn.state.value, 'completed');
    mock.timers.tick(1);
    assert.equal(udp.txn.state.value, 'terminated');
    const tcp = nist(true);
    tcp.txn.respond(response(tcp.req, 200));
    mock.timers.tick(0);
    assert.equal(tcp.txn.state.value, 'terminated');
  });
});

describe('2xx retransmission by the UAS core (§13.3.1.4)', () => {
  it('retransmits the 2xx at T1, 2T1… capped at T2 until the ACK', () => {
    let sent = 0;
    const r = new Uas2xxRetransmitter(() => sent++, false, TIMERS, () => assert.fail('no timeout'));
    mock.timers.tick(500);
    mock.timers.tick(1000);
    mock.timers.tick(2000);
    mock.timers.tick(4000);
    mock.timers.tick(4000);
    assert.equal(sent, 5);
    r.ack();
    mock.timers.tick(20000);
    assert.equal(sent, 5);
    assert.equal(r.state.value, 'acked');
  });

  it('gives up after 64*T1 without an ACK (timer H) and tells the core, which sends the BYE', () => {
    let timedOut = 0;
    const r = new Uas2xxRetransmitter(() => undefined, false, TIMERS, () => timedOut++);
    mock.timers.tick(31999);
    assert.equal(timedOut, 0);
    mock.timers.tick(1);
    assert.equal(timedOut, 1);
    assert.equal(r.state.value, 'timedout');
  });

  it('over TCP does not retransmit but still waits 64*T1 for the ACK', () => {
    let sent = 0;
    let timedOut = 0;
    new Uas2xxRetransmitter(() => sent++, true, TIMERS, () => timedOut++);
    mock.timers.tick(32000);
    assert.equal(sent, 0);
    assert.equal(timedOut, 1);
  });
});
