// Stream framing: SIP over TCP by Content-Length (§18.3) and drachtio's `len#payload`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlFramer, frame } from '../../../src/sip/control/control-framer.ts';
import { StreamFramer } from '../../../src/sip/transport/stream-framer.ts';

const sipMsg = (body: string) => `MESSAGE sip:a@b SIP/2.0\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('SIP stream framer', () => {
  it('joins a message split across reads, byte by byte', () => {
    const f = new StreamFramer(65535);
    const text = sipMsg('héllo');
    const out = [];
    for (const b of Buffer.from(text)) out.push(...f.push(Buffer.from([b])));
    assert.equal(out.length, 1);
    assert.equal(out[0].kind === 'message' && out[0].data.toString(), text);
  });

  it('splits two messages in one read, and answers a CRLFCRLF keep-alive ping', () => {
    const f = new StreamFramer(65535);
    const out = f.push(Buffer.from('\r\n\r\n' + sipMsg('a') + sipMsg('bb')));
    assert.deepEqual(out.map((o) => o.kind), ['ping', 'message', 'message']);
  });

  it('a message without Content-Length, or over the size limit, is a framing error', () => {
    assert.equal(new StreamFramer(65535).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nX: y\r\n\r\n'))[0].kind, 'error');
    assert.equal(new StreamFramer(100).push(Buffer.from(sipMsg('x'.repeat(200))))[0].kind, 'error');
  });

  it('a missing or negative Content-Length hands back the header block, so the request can be answered 400', () => {
    for (const cl of ['', 'Content-Length: -999\r\n', 'l: 12abc\r\n']) {
      const head = `OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n${cl}\r\n`;
      const [f] = new StreamFramer(65535).push(Buffer.from(head + 'body'));
      assert.equal(f.kind, 'error', cl);
      assert.equal(f.kind === 'error' ? f.head?.toString() : '', head, cl);
    }
  });
});

describe('drachtio control framer', () => {
  it('handles a length split across reads and UTF-8 payloads', () => {
    const f = new ControlFramer();
    const wire = Buffer.concat([frame('id|ping'), frame('id2|sip|€')]);
    const out = [];
    for (const b of wire) out.push(...f.push(Buffer.from([b])));
    assert.deepEqual(out, [{ kind: 'message', payload: 'id|ping' }, { kind: 'message', payload: 'id2|sip|€' }]);
  });

  it('six digits, a non-digit or an empty length is a protocol error', () => {
    for (const bad of ['123456#x', '12a#', '#abc']) {
      assert.equal(new ControlFramer().push(Buffer.from(bad))[0].kind, 'error', bad);
    }
  });
});
