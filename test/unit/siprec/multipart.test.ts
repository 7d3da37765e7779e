// The SIPREC body reader: multipart/mixed as SBCs send it, and malformed bodies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundaryOf, parseMultipart } from '../../../src/siprec/multipart.ts';
import { isSiprecRequest, readSiprecBody, SiprecBodyError } from '../../../src/siprec/siprec-body.ts';

const SDP = 'v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n';
const XML = '<?xml version="1.0"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode></recording>\r\n';

function body(boundary: string, parts: [string | null, string][], eol = '\r\n', close = true): string {
  let s = '';
  for (const [type, content] of parts) s += `--${boundary}${eol}${type ? `Content-Type: ${type}${eol}` : ''}${eol}${content}${eol}`;
  return s + (close ? `--${boundary}--${eol}` : '');
}

describe('multipart bodies', () => {
  it('boundary quoted or not', () => {
    assert.equal(boundaryOf('multipart/mixed;boundary=foobar'), 'foobar');
    assert.equal(boundaryOf('multipart/mixed; boundary="unique-boundary-1"'), 'unique-boundary-1');
    assert.equal(boundaryOf('multipart/mixed'), null);
  });

  it('SDP and rs-metadata+xml, the SDP kept byte for byte', () => {
    const b = readSiprecBody('multipart/mixed;boundary=OSS-unique-boundary-42', body('OSS-unique-boundary-42', [['application/sdp', SDP], ['application/rs-metadata+xml', XML]]));
    assert.equal(b.sdp, SDP);
    assert.equal(b.metadata, XML);
  });

  it('metadata first, bare application/rs-metadata, an extra application/gtd part, LF line ends, a preamble', () => {
    const raw = 'preamble text\n' + body('b1', [['application/rs-metadata', XML], ['application/gtd', 'IAM,\nPRN,isdn*,,NT100,'], ['application/sdp', SDP]], '\n');
    const b = readSiprecBody('multipart/mixed; boundary="b1"', raw);
    assert.equal(b.sdp, SDP);
    assert.equal(b.metadata, XML);
    assert.deepEqual(b.ignored, ['application/gtd']);
  });

  it('part headers folded and in any case; Content-Disposition kept', () => {
    const raw = `--x\r\ncontent-TYPE: application/sdp\r\nContent-Disposition: session;\r\n handling=required\r\n\r\n${SDP}\r\n--x--\r\n`;
    const [p] = parseMultipart('multipart/mixed;boundary=x', raw);
    assert.equal(p!.type, 'application/sdp');
    assert.equal(p!.headers['content-disposition'], 'session; handling=required');
  });

  it('a plain SDP body or a metadata-only body', () => {
    assert.deepEqual(readSiprecBody('application/sdp', SDP), { sdp: SDP, metadata: null, ignored: [] });
    assert.deepEqual(readSiprecBody('application/rs-metadata+xml', XML), { sdp: null, metadata: XML, ignored: [] });
    assert.deepEqual(readSiprecBody(undefined, ''), { sdp: null, metadata: null, ignored: [] });
  });

  it('malformed: no closing delimiter (cut short), no boundary parameter, no delimiter, bad part header: 400', () => {
    const bad400 = (ct: string, raw: string, why: RegExp): void =>
      assert.throws(() => readSiprecBody(ct, raw), (e: unknown) => e instanceof SiprecBodyError && e.status === 400 && why.test(e.message));
    bad400('multipart/mixed;boundary=b', body('b', [['application/sdp', SDP]], '\r\n', false), /closing/);
    bad400('multipart/mixed;boundary=b', body('b', [['application/sdp', SDP.slice(0, 30)]], '\r\n', false), /closing/);
    bad400('multipart/mixed', body('b', [['application/sdp', SDP]]), /boundary/);
    bad400('multipart/mixed;boundary=zzz', body('b', [['application/sdp', SDP]]), /delimiter/);
    bad400('multipart/mixed;boundary=b', '--b\r\nthis is no header\r\n\r\nx\r\n--b--\r\n', /header/);
  });

  it('a part without Content-Type is text/plain (RFC 2046): without SDP or metadata the body is refused', () => {
    const b = readSiprecBody('multipart/mixed;boundary=b', body('b', [[null, 'hello'], ['application/sdp', SDP]]));
    assert.deepEqual(b.ignored, ['text/plain']);
    assert.throws(() => readSiprecBody('multipart/mixed;boundary=b', body('b', [[null, SDP]])), (e: unknown) => e instanceof SiprecBodyError && e.status === 400);
  });

  it('a body type that is neither: 415', () => {
    assert.throws(() => readSiprecBody('application/json', '{}'), (e: unknown) => e instanceof SiprecBodyError && e.status === 415);
  });

  it('a delimiter-like line inside a part does not split it', () => {
    const raw = `--b\r\nContent-Type: application/gtd\r\n\r\n--bX not a delimiter\r\n--b\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--b--`;
    const parts = parseMultipart('multipart/mixed;boundary=b', raw);
    assert.equal(parts[0]!.body, '--bX not a delimiter');
    assert.equal(parts[1]!.body, SDP);
  });
});

describe('SIPREC detection', () => {
  const get = (h: Record<string, string>) => (n: string) => h[n];
  it('Require: siprec, or a +sip.src Contact', () => {
    assert.equal(isSiprecRequest(get({ Require: 'siprec' })), true);
    assert.equal(isSiprecRequest(get({ Require: '100rel, siprec' })), true);
    assert.equal(isSiprecRequest(get({ Contact: '<sip:src@10.0.0.1:5060>;+sip.src' })), true);
    assert.equal(isSiprecRequest(get({ Require: 'timer', Contact: '<sip:a@b>' })), false);
  });
});
