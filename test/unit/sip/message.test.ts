// RFC 3261 §7 and §25 message syntax: parser and serializer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNameAddr, parseUri, parseVia, sipHostPortValid } from '../../../src/sip/message/header-values.ts';
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

  it('a status line that cannot be read has no partial message (a response is never answered)', () => {
    for (const bad of ['SIP/3.0 200 OK\r\n\r\n', 'SIP/2.0 2x0 OK\r\n\r\n', 'SIP/2.0 4294967301 big\r\n\r\n', 'sip/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n']) {
      assert.throws(() => parseMessage(Buffer.from(bad)), (e: unknown) => e instanceof ParseError && e.partial === null);
    }
  });

  it('any other unreadable start line keeps its headers: they decide whether it is SIP enough to answer', () => {
    for (const [bad, headers] of [['HELLO\r\n\r\n', 0], ['\x00\x01\r\n\r\n', 0], ['OPTIONS\x06sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCall-ID: c\r\n\r\n', 2]] as const) {
      assert.throws(() => parseMessage(Buffer.from(bad, 'latin1')), (e: unknown) => e instanceof ParseError && e.partial !== null && e.partial.isRequest && e.partial.headers.length === headers && /bad start line/.test(e.message));
    }
    // A method that is no token, in a line that still ends in SIP/2.0.
    assert.throws(() => parseMessage(Buffer.from('OPTI\x04NS sip:a@b SIP/2.0\r\n\r\n', 'latin1')), (e: unknown) => e instanceof ParseError && e.partial?.method === 'OPTI\x04NS' && /bad Method/.test(e.message));
  });

  it('a recognisable but malformed request line keeps the partial message for a 400, a SIP version other than 2.0 for a 505', () => {
    const head = 'Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n';
    const cases: Array<[string, number]> = [
      ['INVITE bob SIP/2.0', 400], // no scheme
      ['INVITE <sip:a@b> SIP/2.0', 400], // RFC 4475 §3.1.2.7
      ['INVITE sip:a@b; lr SIP/2.0', 400], // §3.1.2.8
      ['INVITE  sip:a@b  SIP/2.0', 400], // §3.1.2.9
      ['OPTIONS sip:a@b SIP/2.0  ', 400], // §3.1.2.10
      ['INVITE sip:a@b?Route=%3Csip:c%3E SIP/2.0', 400], // §3.1.2.11
      ['OPTIONS sip:a@b SIP/7.0', 505], // §3.1.2.16
      ['INVITE sip:a@b SIP/2.O', 400], // a mangled version is still a request to answer
      ['HELLO WORLD', 400], // the core answers it only when it has a Via
    ];
    for (const [line, status] of cases) {
      assert.throws(
        () => parseMessage(Buffer.from(`${line}\r\n${head}`)),
        (e: unknown) => e instanceof ParseError && e.partial?.method === line.split(' ')[0] && e.status === status,
        line,
      );
    }
  });

  it('single-valued headers twice, empty list elements and empty parameters are 400s (RFC 4475 §3.1.2.1, §3.3.8, §3.3.9)', () => {
    const ok = 'OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:c@d>;tag=1\nTo: <sip:a@b>\nCall-ID: x\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContact: <sip:c@d>\nContent-Length: 0\n\n';
    assert.equal(msg(ok).method, 'OPTIONS');
    const variants = [
      ok.replace('Call-ID: x\n', 'Call-ID: x\ni: y\n'),
      ok.replace('To: <sip:a@b>\n', 'To: <sip:a@b>\nt: <sip:z@b>\n'),
      ok.replace('From: <sip:c@d>;tag=1\n', 'From: <sip:c@d>;tag=1\nFrom: <sip:e@d>;tag=2\n'),
      ok.replace('CSeq: 1 OPTIONS\n', 'CSeq: 1 OPTIONS\nCSeq: 2 OPTIONS\n'),
      ok.replace('Max-Forwards: 70\n', 'Max-Forwards: 70\nMax-Forwards: 5\n'),
      ok.replace('Content-Length: 0\n', 'Content-Length: 0\nl: 0\n'),
      ok.replace('branch=z9hG4bKx', 'branch=z9hG4bKx;;,;,,'),
      ok.replace('Contact: <sip:c@d>', 'Contact: <sip:c@d>;;;;'),
    ];
    for (const v of variants) {
      assert.throws(() => msg(v), (e: unknown) => e instanceof ParseError && e.partial?.method === 'OPTIONS' && e.status === 400, v);
    }
  });

  it('methods with every token character and CSeq numbers with leading zeros parse (RFC 4475 §3.1.1.1, §3.1.1.2)', () => {
    const m = msg("!interesting-Method0123456789_*+`.%indeed'~ sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nCSeq: 0009 !interesting-Method0123456789_*+`.%indeed'~\nl: 0\n\n");
    assert.equal(m.cseq.seq, 9);
    assert.equal(m.cseq.method, m.method);
  });

  it('an unterminated quoted display name is a 400 (RFC 4475 §3.1.2.6)', () => {
    assert.throws(() => parseNameAddr('"Mr. J. User <sip:j.user@example.com>'), (e: unknown) => (e as { status: number }).status === 400);
  });

  it('a name-addr or addr-spec without a scheme, or with < or > in its URI, is a 400', () => {
    for (const v of ['<<<>>>', '<parley@127.0.0.1>', 'nobody;tag=1', '<sip:a<b@c>']) {
      assert.throws(() => parseNameAddr(v), (e: unknown) => (e as { status: number }).status === 400, v);
    }
    for (const v of ['<sip:a@b>;tag=1', '"A" <sips:a@[::1]:5061>', 'sip:a@b;tag=x', '<tel:+15551234>', '<urn:service:sos>']) assert.doesNotThrow(() => parseNameAddr(v), v);
  });

  it('sipHostPortValid: a host name, IPv4 or [IPv6] and at most a port before the parameters; the user part may hold anything but @', () => {
    for (const u of ['sip:a@b', 'sip:host', 'sips:a@[2001:db8::1]:5061;transport=tls', 'sip:+1555@10.0.0.1;user=phone', 'sip:a@b.example.com.?subject=x',
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"]) assert.equal(sipHostPortValid(u), true, u);
    for (const u of ['sip:@@:::', 'sip:a@', 'sip:a@b:5060abc', 'sip:a@<b>', 'sip:a@b c', 'sip:a@:5060', 'sip:a@b:123456']) assert.equal(sipHostPortValid(u), false, u);
  });

  it('parseUri reads the host after the user part, whatever that holds (an IMS number with phone-context, ; and ? in the user), as sipHostPortValid does', () => {
    const cases: [string, string | null, string, number | null][] = [
      ['sip:+15551234;phone-context=ims.example@10.0.0.1;user=phone', '+15551234;phone-context=ims.example', '10.0.0.1', null],
      ['sip:user;par=u%40example.net@example.com', 'user;par=u%40example.net', 'example.com', null],
      ['sip:a?b@c.example:5070', 'a?b', 'c.example', 5070],
      ['sip:bob@b.example?Refer-To=x@y', 'bob', 'b.example', null],
      ['sip:alice:pw@host:5070;lr', 'alice:pw', 'host', 5070],
      ['SIP:host.example', null, 'host.example', null],
      ["sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com", "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", 'example.com', null],
    ];
    for (const [uri, user, host, port] of cases) {
      const u = parseUri(uri);
      assert.deepEqual([u.user, u.host, u.port], [user, host, port], uri);
      assert.equal(sipHostPortValid(uri), true, uri);
    }
    assert.equal(parseUri('sip:+1555;phone-context=x@h;user=phone').params.get('user'), 'phone');
    for (const bad of ['sip:@host', 'http://a@b', 'sip:']) assert.throws(() => parseUri(bad), /bad URI/, bad);
  });

  it('a datagram without the empty line after its headers keeps its partial message for a 400; a stream message does not', () => {
    const text = 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCall-ID: c\r\n';
    assert.throws(() => parseMessage(Buffer.from(text)), (e: unknown) => e instanceof ParseError && e.partial?.get('Call-ID') === 'c');
    assert.throws(() => parseMessage(Buffer.from(text), { stream: true }), (e: unknown) => e instanceof ParseError && e.partial === null);
  });

  it('a stream message must have a Content-Length', () => {
    assert.throws(() => parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n'), { stream: true }), ParseError);
  });

  it('bare LF line ends, alone or mixed with CRLF, are line ends; the body is kept byte for byte and the message re-serialised in CRLF', () => {
    const body = 'v=0\no=- 1 1 IN IP4 h\n';
    for (const eol of [() => '\n', (i: number) => (i % 2 ? '\n' : '\r\n'), (i: number) => (i % 2 ? '\r\n' : '\n')]) {
      const lines = ['INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', 'X-Folded: one', '  two', `Content-Length: ${body.length}`, ''];
      const m = parseMessage(Buffer.from(lines.map((l, i) => l + eol(i)).join('') + body));
      assert.equal(m.get('X-Folded'), 'one two');
      assert.equal(m.body.toString(), body);
      assert.equal(m.bareLf, true);
      const wire = m.toString();
      assert.equal(/(^|[^\r])\n/.test(wire.slice(0, wire.indexOf('\r\n\r\n') + 4)), false, wire);
    }
    assert.equal(parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n')).bareLf, false);
  });

  it('a missing mandatory header surfaces as a 400 SipError when read', () => {
    const m = msg('OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\n\n');
    assert.throws(() => m.callId, (e: unknown) => (e as { status: number }).status === 400);
    assert.throws(() => m.cseq, (e: unknown) => (e as { status: number }).status === 400);
  });
});
