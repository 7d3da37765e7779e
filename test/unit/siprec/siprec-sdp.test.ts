// Splitting a SIPREC offer into single-stream offers, and the answer put back together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerSection, buildSiprecAnswer, rejectedSection, splitOffer } from '../../../src/siprec/siprec-sdp.ts';

const OFFER = [
  'v=0', 'o=SRC 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0',
  'm=audio 4000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=label:1', 'a=sendonly',
  'm=audio 4002 RTP/SAVP 8', 'c=IN IP4 0.0.0.0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', 'a=label:2', 'a=sendonly',
  'm=audio 4004 RTP/AVP 0', 'a=label:3', 'a=inactive',
  'm=video 4006 RTP/AVP 96', 'a=label:4',
  'm=audio 4008 TCP/MSRP *', 'a=label:5',
  'm=audio 4010 RTP/AVP 0', 'a=label:6',
].join('\r\n') + '\r\n';

describe('SIPREC offers', () => {
  it('one single-stream offer per m-line, direction forced so that Parley only receives', () => {
    const s = splitOffer(OFFER);
    assert.deepEqual(s.map((x) => [x.label, x.paused, x.recordable]), [
      ['1', false, true],
      ['2', true, true], // c=0.0.0.0: paused
      ['3', true, true], // a=inactive
      ['4', false, false], // video
      ['5', false, false], // not RTP
      ['6', false, true], // no direction: sendrecv from the SRC, recorded as sendonly
    ]);
    for (const x of s) {
      assert.equal(x.sdp.match(/^m=/gm)!.length, 1);
      assert.match(x.sdp, /^v=0\r\no=SRC/);
      assert.match(x.sdp, x.paused ? /a=inactive\r\n$/ : /a=sendonly\r\n$/);
      assert.doesNotMatch(x.sdp, /a=sendrecv|a=recvonly/);
    }
    assert.match(s[1]!.sdp, /a=crypto:1 AES_CM_128_HMAC_SHA1_80/);
  });

  it('a session-level direction applies to every stream', () => {
    const s = splitOffer('v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\na=inactive\r\nm=audio 5000 RTP/AVP 0\r\nm=audio 5002 RTP/AVP 0\r\n');
    assert.deepEqual(s.map((x) => x.paused), [true, true]);
  });

  it('the answer: our header, each stream in offer order, labels echoed, refused streams on port 0', () => {
    const leg = 'v=0\r\no=parley 1 2 IN IP4 127.0.0.1\r\ns=parley\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\n';
    const a = buildSiprecAnswer({ sessionId: '9', version: 3, ip: '127.0.0.1' }, [
      answerSection(leg, '1'),
      rejectedSection({ kind: 'video', proto: 'RTP/AVP', fmt: '96', label: '4' }),
    ]);
    assert.equal(
      a,
      'v=0\r\no=parley 9 3 IN IP4 127.0.0.1\r\ns=parley siprec\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
        'm=audio 40000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\na=label:1\r\n' +
        'm=video 0 RTP/AVP 96\r\na=label:4\r\n',
    );
  });
});
