// RFC 3261 §7 and §25 message syntax: parser and serializer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNameAddr, parseUri, parseVia } from '../../../src/sip/message/header-values.ts';
import { ParseError, parseMessage } from '../../../src/sip/message/parse-message.ts';
import { msg } from './fakes.ts';

const base = `INVITE sip:bob@example.com;transport=tcp SIP/2.0
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2
f: "Alice, the \\"first\\"" <sip:alice@example.com>;tag=a1
t: <sip:bob@example.com>
i: call-1
CSeq: 1 INVITE
m: <sip:alice@10.0.0.1>;expires=60, "B, C" <sip:b@10.0.0.3>
Record-Route: <sip:p1;lr>, <sip:p2;lr>
SUBJECT: hello
X-Folded: one
  two
l: 4
c: application/sdp

v=0
`;

describe('SIP message parser', () => {
  it('expands compact forms and matches header names case-insensitively', () => {
    const m = msg(base);
    assert.equal(m.callId, 'call-1');
    assert.equal(m.get('subject'), 'hello');
    assert.equal(m.get('CONTENT-TYPE'), 'application/sdp');
    assert.equal(m.from.params.get('tag'), 'a1');
  });

  it('splits multi-value Via, Contact and Record-Route on commas outside quotes and brackets', () => {
    const m = msg(base);
    assert.equal(m.getAll('Via').length, 2);
    assert.equal(m.topVia.host, '10.0.0.1');
    assert.deepEqual(m.getAll('Record-Route'), ['<sip:p1;lr>', '<sip:p2;lr>']);
    const contacts = m.getAll('Contact');
    assert.equal(contacts.length, 2);
    assert.equal(parseNameAddr(contacts[1]).display, '"B, C"');
  });

  it('keeps quoted display names with commas and escaped quotes intact', () => {
    const from = msg(base).from;
    assert.equal(from.display, '"Alice, the \\"first\\""');
    assert.equal(from.uri, 'sip:alice@example.com');
  });

  it('unfolds continuation lines', () => {
    assert.equal(msg(base).get('X-Folded'), 'one two');
  });

  it('reads the body by Content-Length and serialises with the true length', () => {
    const m = msg(base);
    assert.equal(m.body.toString(), 'v=0\r');
    m.body = Buffer.from('v=0\r\nx=1\r\n');
    assert.match(m.toString(), /Content-Length: 10\r\n\r\nv=0/);
    const again = parseMessage(m.toBuffer());
    assert.equal(again.body.toString(), 'v=0\r\nx=1\r\n');
    assert.equal(again.getAll('Via').length, 2);
  });

  it('parses URI parameters, IPv6 hosts and ports', () => {
    const u = parseUri('sip:bob@[2001:db8::1]:5070;transport=tcp;lr?subject=x');
    assert.equal(u.host, '2001:db8::1');
    assert.equal(u.port, 5070);
    assert.equal(u.params.get('transport'), 'tcp');
    assert.equal(u.params.has('lr'), true);
    const v = parseVia('SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport');
    assert.equal(v.host, '::1');
    assert.equal(v.params.get('rport'), null);
  });

  it('a Content-Length beyond the data, or not a number, is an error that keeps the partial message for a 400', () => {
    for (const cl of ['99', 'abc']) {
      try {
        parseMessage(Buffer.from(base.replace('l: 4', `l: ${cl}`).replace(/\n/g, '\r\n')));
        assert.fail('should throw');
      } catch (err) {
        assert.ok(err instanceof ParseError);
        assert.equal(err.partial?.method, 'INVITE');
      }
    }
  });

  it('a bad start line cannot be answered: no partial message', () => {
    for (const bad of ['HELLO\r\n\r\n', 'INVITE bob SIP/2.0\r\n\r\n', 'SIP/3.0 200 OK\r\n\r\n', '\x00\x01\r\n\r\n']) {
      assert.throws(() => parseMessage(Buffer.from(bad)), (e: unknown) => e instanceof ParseError && e.partial === null);
    }
  });

  it('a stream message must have a Content-Length', () => {
    assert.throws(() => parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n'), { stream: true }), ParseError);
  });

  it('a missing mandatory header surfaces as a 400 SipError when read', () => {
    const m = msg('OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\n\n');
    assert.throws(() => m.callId, (e: unknown) => (e as { status: number }).status === 400);
    assert.throws(() => m.cseq, (e: unknown) => (e as { status: number }).status === 400);
  });
});
