// RFC 3261 §12 dialog state: route sets, CSeq rules, target refresh, in-dialog requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dialog, type DialogInit } from '../../../src/sip/dialog/dialog.ts';
import { DialogLayer } from '../../../src/sip/dialog/dialog-layer.ts';
import { SipMessage } from '../../../src/sip/message/sip-message.ts';
import { msg } from './fakes.ts';

function dialog(over: Partial<DialogInit> = {}): Dialog {
  return new Dialog({
    role: 'uas', callId: 'c1', localTag: 'L', remoteTag: 'R',
    localHeader: '<sip:bob@example.com>;tag=L', remoteHeader: '<sip:alice@example.com>;tag=R',
    localSeq: 100, remoteSeq: 1, remoteTarget: 'sip:alice@10.0.0.1:5070',
    routeSet: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'], transport: 'udp', connectionId: null,
    ownerId: 'app', inviteSeq: 1, inviteTxnId: 't1', ...over,
  });
}

const placeholder = (method: string) => SipMessage.request(method, 'sip:placeholder');

describe('dialog (§12)', () => {
  it('a UAS dialog id is Call-ID plus the remote From tag, a UAC one Call-ID plus our From tag', () => {
    assert.equal(dialog().id, 'c1;from-tag=R');
    assert.equal(dialog({ role: 'uac' }).id, 'c1;from-tag=L');
  });

  it('both ends of a call Parley placed to itself (one Call-ID and From tag) are two dialogs: the UAC end made second gets ;uac', () => {
    const layer = new DialogLayer();
    // Parley's INVITE to itself: its UAC end's local tag is its UAS end's remote tag.
    const uas = dialog({ role: 'uas', localTag: 'T', remoteTag: 'F' });
    const uac = dialog({ role: 'uac', localTag: 'F', remoteTag: 'T' });
    layer.add(uas);
    layer.add(uac);
    assert.equal(uas.id, 'c1;from-tag=F');
    assert.equal(uac.id, 'c1;from-tag=F;uac');
    assert.equal(layer.get(uas.id), uas);
    assert.equal(layer.get(uac.id), uac);
    assert.equal(layer.match('c1', 'T', 'F'), uas, 'a request from the UAC end reaches the UAS end');
    assert.equal(layer.match('c1', 'F', 'T'), uac);
    layer.remove(uas);
    assert.equal(layer.get(uac.id), uac, 'ending one end leaves the other');
    assert.equal(layer.get('c1;from-tag=F'), undefined);
  });

  it('a dialog added again on its own side (an early one replaced) keeps the id', () => {
    const layer = new DialogLayer();
    const early = dialog({ role: 'uac', localTag: 'F', remoteTag: 'T1' });
    const confirmed = dialog({ role: 'uac', localTag: 'F', remoteTag: 'T2' });
    layer.add(early);
    layer.add(confirmed);
    assert.equal(confirmed.id, 'c1;from-tag=F');
    assert.equal(layer.get('c1;from-tag=F'), confirmed);
  });

  it('in-dialog requests use the remote target as Request-URI and the route set as Route (loose routing)', () => {
    const bye = dialog().buildRequest(placeholder('BYE'), null);
    assert.equal(bye.uri, 'sip:alice@10.0.0.1:5070');
    assert.deepEqual(bye.getAll('Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(bye.get('From'), '<sip:bob@example.com>;tag=L');
    assert.equal(bye.get('To'), '<sip:alice@example.com>;tag=R');
    assert.equal(bye.get('Call-ID'), 'c1');
  });

  it('with a strict first route, the route goes into the Request-URI and the target to the end', () => {
    const d = dialog({ routeSet: ['<sip:strict.example.com>', '<sip:p2.example.com;lr>'] });
    const bye = d.buildRequest(placeholder('BYE'), null);
    assert.equal(bye.uri, 'sip:strict.example.com');
    assert.deepEqual(bye.getAll('Route'), ['<sip:p2.example.com;lr>', '<sip:alice@10.0.0.1:5070>']);
    assert.equal(d.nextHopUri, 'sip:strict.example.com');
  });

  it('the local CSeq goes up by one per request; an ACK reuses the INVITE\'s number', () => {
    const d = dialog();
    assert.equal(d.buildRequest(placeholder('INFO'), null).cseq.seq, 101);
    const reinvite = d.buildRequest(placeholder('INVITE'), '<sip:me@127.0.0.1>');
    assert.equal(reinvite.cseq.seq, 102);
    assert.equal(reinvite.get('Contact'), '<sip:me@127.0.0.1>');
    const ack = d.buildRequest(placeholder('ACK'), null);
    assert.equal(ack.get('CSeq'), '102 ACK');
  });

  it('keeps the app\'s own headers and body but not its Via, From, To, Call-ID or CSeq', () => {
    const sk = placeholder('INFO').add('Via', 'SIP/2.0/UDP evil').add('X-Custom', 'yes').add('CSeq', '999 INFO');
    sk.body = Buffer.from('Signal=1');
    const r = dialog().buildRequest(sk, null);
    assert.equal(r.get('X-Custom'), 'yes');
    assert.equal(r.get('Via'), undefined);
    assert.equal(r.cseq.seq, 101);
    assert.equal(r.body.toString(), 'Signal=1');
  });

  it('a request with a CSeq lower than or equal to the last one is refused (→ 500)', () => {
    const d = dialog({ remoteSeq: 5 });
    const req = (seq: number, m = 'INFO') => msg(`${m} sip:x SIP/2.0\nCSeq: ${seq} ${m}\nContent-Length: 0\n\n`);
    assert.equal(d.acceptRemoteSeq(req(4)), false);
    assert.equal(d.acceptRemoteSeq(req(5)), false);
    assert.equal(d.acceptRemoteSeq(req(6)), true);
    assert.equal(d.remoteSeq, 6);
    assert.equal(d.acceptRemoteSeq(req(6, 'ACK')), true, 'ACK carries the INVITE\'s number');
  });

  it('a re-INVITE with a new Contact refreshes the remote target; an INFO does not', () => {
    const d = dialog();
    d.refreshTarget(msg('INFO sip:x SIP/2.0\nContact: <sip:moved@10.0.0.9>\nContent-Length: 0\n\n'));
    assert.equal(d.remoteTarget, 'sip:alice@10.0.0.1:5070');
    d.refreshTarget(msg('INVITE sip:x SIP/2.0\nContact: <sip:moved@10.0.0.9>\nContent-Length: 0\n\n'));
    assert.equal(d.remoteTarget, 'sip:moved@10.0.0.9');
    assert.equal(d.buildRequest(placeholder('BYE'), null).uri, 'sip:moved@10.0.0.9');
  });

  it('ACK and PRACK go to the remote target even when the app names the original Request-URI', () => {
    const d = dialog({ role: 'uac', routeSet: [] });
    const ack = d.buildRequest(SipMessage.request('ACK', 'sip:bob@original.example.com'), null);
    assert.equal(ack.uri, 'sip:alice@10.0.0.1:5070');
    const info = d.buildRequest(SipMessage.request('INFO', 'sip:explicit@example.com'), null);
    assert.equal(info.uri, 'sip:explicit@example.com');
  });

  it('a PRACK carries RAck: the last RSeq, the INVITE CSeq and method (RFC 3262 §7.2)', () => {
    const d = dialog({ role: 'uac', inviteSeq: 1, localSeq: 1, routeSet: [] });
    d.rseq = 42;
    const prack = d.buildRequest(SipMessage.request('PRACK', 'sip:placeholder'), null);
    assert.equal(prack.get('RAck'), '42 1 INVITE');
    assert.equal(prack.cseq.seq, 2);
  });
});
