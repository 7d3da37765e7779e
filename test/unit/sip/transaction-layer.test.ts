// Transaction matching (§17.1.3, §17.2.3).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { TransactionLayer } from '../../../src/sip/transaction/transaction-layer.ts';
import { FakeTransport, RecordingUser, TIMERS, invite, msg, response } from './fakes.ts';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

describe('transaction layer', () => {
  it('an ACK to a non-2xx matches the INVITE server transaction; a CANCEL gets its own', () => {
    const layer = new TransactionLayer(TIMERS);
    const req = invite('z9hG4bKm1');
    const txn = layer.createServer(req, new FakeTransport().send, false, new RecordingUser());
    const ack = msg(req.toString().replace('INVITE sip', 'ACK sip').replace('1 INVITE', '1 ACK'));
    assert.equal(layer.findServer(ack), txn);
    const cancel = msg(req.toString().replace('INVITE sip', 'CANCEL sip').replace('1 INVITE', '1 CANCEL'));
    assert.equal(layer.findServer(cancel), undefined);
    assert.equal(layer.findServer(cancel, 'INVITE'), txn);
  });

  it('a different branch or sent-by is a different transaction', () => {
    const layer = new TransactionLayer(TIMERS);
    const req = invite('z9hG4bKm2');
    layer.createServer(req, new FakeTransport().send, false, new RecordingUser());
    assert.equal(layer.findServer(invite('z9hG4bKother')), undefined);
    assert.equal(layer.findServer(msg(req.toString().replace('10.0.0.1:5060', '10.0.0.9:5060'))), undefined);
  });

  it('responses match client transactions by branch and CSeq method; terminated ones are forgotten', () => {
    const layer = new TransactionLayer(TIMERS);
    const req = invite('z9hG4bKm3');
    const u = new RecordingUser();
    const txn = layer.createClient(req, new FakeTransport().send, true, u);
    assert.equal(layer.findClient(response(req, 180)), txn);
    txn.receiveResponse(response(req, 486));
    mock.timers.tick(0);
    assert.equal(layer.findClient(response(req, 486)), undefined);
    assert.equal(layer.clientCount, 0);
  });

  it('close() ends every transaction and its timers', () => {
    const layer = new TransactionLayer(TIMERS);
    const t = new FakeTransport();
    layer.createClient(invite('z9hG4bKm4'), t.send, false, new RecordingUser());
    layer.close();
    mock.timers.tick(60000);
    assert.equal(t.count(), 1);
    assert.equal(layer.clientCount, 0);
  });
});
