import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdpTransform from 'sdp-transform';
import { SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import { buildAnswer, buildOffer, negotiateOffer, parseAnswer } from '../../../src/media-plane/sdp-negotiator.ts';
import type { LocalAudio } from '../../../src/media-plane/sdp-types.ts';

const ALL = ['PCMU', 'PCMA', 'G722', 'opus'] as const;
const local: LocalAudio = { ip: '127.0.0.1', port: 40000, rtcpPort: null, srtp: null };
const session = { sessionId: '42', version: 2 };

function offer(mlines: string[], sessionLevel: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', ...sessionLevel, ...mlines].join('\r\n') + '\r\n';
}

const FULL = [
  'm=audio 5004 RTP/AVP 96 9 8 0 101 102',
  'a=rtpmap:96 opus/48000/2',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=rtpmap:102 telephone-event/48000',
  'a=rtcp-mux',
];

describe('SDP offer/answer', () => {
  it('an m= line it cannot read (a port count, m=audio 5000/2) is refused with a Warning that quotes it', () => {
    assert.throws(
      () => negotiateOffer(offer(['m=audio 5000/2 RTP/AVP 0']), ALL),
      (err: unknown) => err instanceof SdpNegotiationError && err.warning === 399 && err.message === 'cannot read "m=audio 5000/2 RTP/AVP 0" (a port count, RFC 4566 §5.14, is not supported)',
    );
    assert.throws(() => negotiateOffer(offer(['m=audio x RTP/AVP 0']), ALL), /cannot read "m=audio x RTP\/AVP 0"$/);
  });

  it("Opus in-band FEC: sent to a peer whose fmtp for the chosen payload type says useinbandfec=1 (RFC 7587 §6.1), asked for in Parley's SDP", () => {
    const withFmtp = (fmtp: string[]): boolean | undefined => negotiateOffer(offer([...FULL, ...fmtp]), ALL).sendFec;
    assert.equal(withFmtp(['a=fmtp:96 minptime=10;useinbandfec=1']), true);
    assert.equal(withFmtp(['a=fmtp:96 useinbandfec=1; stereo=0']), true);
    assert.equal(withFmtp(['a=fmtp:96 minptime=10;useinbandfec=0']), false);
    assert.equal(withFmtp([]), false, 'absent: 0');
    assert.equal(withFmtp(['a=fmtp:97 useinbandfec=1']), false, "another payload type's");
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0 96', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1']), ALL).sendFec, false, 'not the codec chosen');
    const m = sdpTransform.parse(buildAnswer(negotiateOffer(offer(FULL), ALL), local, session)).media[0];
    assert.deepEqual(m.fmtp.find((f) => f.payload === 96)?.config, 'minptime=20;useinbandfec=1', 'Parley decodes FEC (the parley-opus addon)');
  });

  it('answers with one codec, the offerer\'s first usable one, plus telephone-event at its clock', () => {
    const n = negotiateOffer(offer(FULL), ALL);
    assert.equal(n.codec, 'opus');
    assert.equal(n.sendPt, 96);
    assert.deepEqual(n.dtmf, { sendPt: 102, recvPt: 102, clock: 48000 });
    const a = sdpTransform.parse(buildAnswer(n, local, session));
    assert.equal(a.media.length, 1);
    const m = a.media[0];
    assert.equal(m.payloads, '96 102');
    assert.deepEqual(m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`), ['96 opus/48000', '102 telephone-event/48000']);
    assert.equal(m.ptime, 20);
    assert.equal(m.rtcpMux, 'rtcp-mux');
    assert.equal(m.direction, 'sendrecv');
    assert.equal(m.port, 40000);
  });

  it('honours the configured codecs and takes the matching telephone-event clock', () => {
    const n = negotiateOffer(offer(FULL), ['PCMA', 'PCMU']);
    assert.equal(n.codec, 'PCMA');
    assert.equal(n.sendPt, 8);
    assert.deepEqual(n.dtmf, { sendPt: 101, recvPt: 101, clock: 8000 });
    assert.deepEqual(n.remote, { ip: '10.0.0.1', port: 5004, rtcpPort: null, rtcpMux: true });
  });

  it('takes telephone-event/16000 beside G.722 when the offer has no 8 kHz one (as several phones write it)', () => {
    const n = negotiateOffer(offer(['m=audio 5004 RTP/AVP 9 97', 'a=rtpmap:9 G722/8000', 'a=rtpmap:97 telephone-event/16000']), ALL);
    assert.equal(n.codec, 'G722');
    assert.deepEqual(n.dtmf, { sendPt: 97, recvPt: 97, clock: 16000 });
    assert.match(buildAnswer(n, local, session), /^a=rtpmap:97 telephone-event\/16000\r$/m);
    const both = negotiateOffer(offer(['m=audio 5004 RTP/AVP 9 97 101', 'a=rtpmap:97 telephone-event/16000', 'a=rtpmap:101 telephone-event/8000']), ALL);
    assert.deepEqual(both.dtmf, { sendPt: 101, recvPt: 101, clock: 8000 }, 'the 8 kHz one (G.722\'s RTP clock) when both are there');
  });

  it('sends in packets of the peer\'s a=ptime (capped by a=maxptime; G.711 and G.722, 10..60 ms in steps of 10), and the answer says so', () => {
    const ptimeOf = (codec: string, lines: string[], session: string[] = []): number => negotiateOffer(offer([`m=audio 5004 RTP/AVP ${codec}`, ...lines], session), ALL).sendPtime;
    assert.equal(ptimeOf('0', ['a=ptime:30']), 30);
    assert.equal(ptimeOf('8', ['a=ptime:60', 'a=maxptime:40']), 40);
    assert.equal(ptimeOf('9', ['a=ptime:10']), 10);
    assert.equal(ptimeOf('0', []), 20);
    assert.equal(ptimeOf('0', [], ['a=ptime:30']), 30, 'at session level');
    assert.equal(ptimeOf('0', ['a=ptime:25']), 20);
    assert.equal(ptimeOf('0', ['a=ptime:120']), 20);
    assert.equal(ptimeOf('96', ['a=rtpmap:96 opus/48000/2', 'a=ptime:60']), 20, 'opus: 20 ms');
    const n = negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'a=ptime:30']), ALL);
    assert.match(buildAnswer(n, local, session), /^a=ptime:30\r$/m);
  });

  it('knows static payload types without rtpmap', () => {
    const n = negotiateOffer(offer(['m=audio 5004 RTP/AVP 0']), ALL);
    assert.equal(n.codec, 'PCMU');
    assert.equal(n.dtmf, null);
    assert.doesNotMatch(buildAnswer(n, local, session), /telephone-event/);
  });

  it('rejects an offer without a usable codec with a 488 error', () => {
    const bad = offer(['m=audio 5004 RTP/AVP 18 3', 'a=rtpmap:18 G729/8000']);
    assert.throws(() => negotiateOffer(bad, ALL), (e: unknown) => e instanceof SdpNegotiationError && e.sipStatus === 488 && /codec/.test(e.message));
    assert.throws(() => negotiateOffer(offer(['m=video 5006 RTP/AVP 96', 'a=rtpmap:96 H264/90000']), ALL), SdpNegotiationError);
    assert.throws(() => negotiateOffer(offer(['m=audio 5004 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2']), ALL), SdpNegotiationError);
    assert.throws(() => negotiateOffer('garbage', ALL), SdpNegotiationError);
    // A codec outside the configured list is as unusable as an unknown one.
    assert.throws(() => negotiateOffer(offer(['m=audio 5004 RTP/AVP 9']), ['PCMU']), SdpNegotiationError);
  });

  it('rejects other m-lines with port 0 and keeps their order (RFC 3264 §6)', () => {
    const n = negotiateOffer(offer(['m=video 5006 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'm=audio 5004 RTP/AVP 0']), ALL);
    const a = sdpTransform.parse(buildAnswer(n, local, session));
    assert.deepEqual(a.media.map((m) => `${m.type} ${m.port}`), ['video 0', 'audio 40000']);
  });

  it('answers hold: sendonly → recvonly, recvonly → sendonly, inactive → inactive, c=0.0.0.0 → recvonly', () => {
    const dir = (lines: string[], sess: string[] = []): string => negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', ...lines], sess), ALL).direction;
    assert.equal(dir(['a=sendonly']), 'recvonly');
    assert.equal(dir(['a=recvonly']), 'sendonly');
    assert.equal(dir(['a=inactive']), 'inactive');
    assert.equal(dir([], ['a=sendonly']), 'recvonly', 'session-level direction applies');
    const held = negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'c=IN IP4 0.0.0.0']), ALL);
    assert.equal(held.direction, 'recvonly');
    assert.equal(held.remote.ip, null);
    assert.match(buildAnswer(held, local, session), /a=recvonly/);
  });

  it('separate RTCP: a=rtcp port, else RTP port + 1; our a=rtcp in the answer', () => {
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0']), ALL).remote.rtcpPort, 5005);
    const n = negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'a=rtcp:6000']), ALL);
    assert.equal(n.remote.rtcpPort, 6000);
    assert.equal(n.remote.rtcpMux, false);
    assert.match(buildAnswer(n, { ...local, rtcpPort: 40001 }, session), /a=rtcp:40001\r\n/);
  });

  it("a=rtcp with an address (RFC 3605): RTCP's host when it is another than c=, one of c='s family", () => {
    const rtcpIp = (lines: string[]): string | undefined => negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', ...lines]), ALL).remote.rtcpIp;
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP4 10.0.0.9']), '10.0.0.9');
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'a=rtcp:6000 IN IP4 10.0.0.9']), ALL).remote.rtcpPort, 6000);
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP4 10.0.0.1']), undefined, "c='s own address");
    assert.equal(rtcpIp(['a=rtcp:6000']), undefined);
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP6 ::1']), undefined, 'another family than the socket\'s');
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP4 0.0.0.0']), undefined);
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP4 rtcp.example.com']), undefined, 'a name: RTCP goes to c=');
    assert.equal(rtcpIp(['a=rtcp:6000 IN IP4 10.0.0.9', 'a=rtcp-mux']), undefined, 'multiplexed: RTCP goes with RTP');
  });

  it('SDES-SRTP: takes a supported a=crypto, refuses RTP/SAVP without one (488)', () => {
    const key = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
    const n = negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0', 'a=crypto:1 F8_128_HMAC_SHA1_80 inline:' + key, `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^20`]), ALL);
    assert.deepEqual(n.remoteSrtp, { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key });
    const answer = buildAnswer(n, { ...local, srtp: { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'b3Vyc2lkZWtleQ==' } }, session);
    assert.match(answer, /m=audio 40000 RTP\/SAVP 0/);
    assert.match(answer, /a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:b3Vyc2lkZWtleQ==/);
    assert.throws(() => negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0']), ALL), SdpNegotiationError);
  });

  it('an RTP/AVPF or RTP/SAVPF offer (baresip mediaenc=srtp-mandf, AVPF phones) is answered in the same profile, and re-offered in it', () => {
    const key = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
    for (const [proto, srtp] of [['RTP/AVPF', null], ['RTP/SAVPF', { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: 'b3Vyc2lkZWtleQ==' }], ['RTP/AVP', null], ['RTP/SAVP', { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: 'b3Vyc2lkZWtleQ==' }]] as const) {
      const n = negotiateOffer(offer([`m=audio 5004 ${proto} 0`, ...(srtp ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`] : [])]), ALL);
      assert.equal(n.feedback, proto.endsWith('F'));
      assert.match(buildAnswer(n, { ...local, srtp }, session), new RegExp(`^m=audio 40000 ${proto.replace('/', '\\/')} 0\\b`, 'm'), `${proto} answered in kind`);
      assert.match(buildOffer(['PCMU'], { ...local, srtp, feedback: n.feedback }, session), new RegExp(`^m=audio 40000 ${proto.replace('/', '\\/')} 0\\b`, 'm'), `${proto} re-offered in kind`);
    }
  });

  it('SDES-SRTP with an MKI (RFC 4568 §6.1 |MKI:length, as SBCs send it): taken with its value and length; one it cannot use is skipped', () => {
    const key = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
    const gcmKey = Buffer.alloc(28, 7).toString('base64');
    const take = (...cryptos: string[]): unknown => negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0', ...cryptos]), ALL).remoteSrtp;
    assert.deepEqual(take(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^31|1:1`), { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key, mki: { value: 1, length: 1 } });
    assert.deepEqual(take(`a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:${key}|4294967295:4`), { tag: 3, suite: 'AES_CM_128_HMAC_SHA1_32', keyBase64: key, mki: { value: 4294967295, length: 4 } });
    // Skipped for the next line: longer than 4 bytes, a value over its length, two MKIs, an MKI on an AEAD suite.
    for (const bad of [`${key}|1:5`, `${key}|256:1`, `${key}|1:1|2:1`, `${key}|x:1`]) {
      assert.deepEqual(take(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${bad}`, `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${key}`), { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key }, bad);
    }
    assert.deepEqual(take(`a=crypto:1 AEAD_AES_128_GCM inline:${gcmKey}|1:1`, `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${key}`), { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key });
    assert.throws(() => negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^20|1:5`]), ALL), SdpNegotiationError, 'only an MKI it cannot use: 488');
  });

  it('validates values: ports 0..65535, IPv4 dotted quads, IPv6 only when reachable, SRTP keys of the suite\'s length (488, never a crash)', () => {
    const refused = (sdp: string, warning: number, opts?: { ipv6: boolean }): void => {
      assert.throws(() => negotiateOffer(sdp, ALL, opts), (err: unknown) => err instanceof SdpNegotiationError && err.sipStatus === 488 && err.warning === warning, sdp);
    };
    refused(offer(['m=audio 70000 RTP/AVP 0']), 399);
    refused(offer(['m=audio 5004 RTP/AVP 0', 'm=video 99999 RTP/AVP 96']), 399);
    refused(offer(['m=audio 5004 RTP/AVP 0', 'a=rtcp:65536']), 399);
    assert.equal(negotiateOffer(offer(['m=audio 65535 RTP/AVP 0', 'a=rtcp-mux']), ALL).remote.port, 65535);
    // Without rtcp-mux RTCP would go to port 65536 or 0: a send there throws in the media thread.
    refused(offer(['m=audio 65535 RTP/AVP 0']), 399);
    refused(offer(['m=audio 5004 RTP/AVP 0', 'a=rtcp:0']), 399);
    assert.equal(negotiateOffer(offer(['m=audio 65535 RTP/AVP 0', 'a=rtcp:65534']), ALL).remote.rtcpPort, 65534);
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'a=rtcp:0', 'a=rtcp-mux']), ALL).remote.rtcpMux, true);
    for (const bad of ['999.1.1.1', '10.0.0', '10.0.0.1.5', '01x.2.3.4', 'example.com']) {
      refused(offer(['m=audio 5004 RTP/AVP 0', `c=IN IP4 ${bad}`]), 301);
    }
    const v6 = ['v=0', 'o=- 1 1 IN IP6 ::1', 's=-', 'c=IN IP6 ::1', 't=0 0', 'm=audio 5004 RTP/AVP 0'].join('\r\n') + '\r\n';
    refused(v6, 301);
    assert.equal(negotiateOffer(v6, ALL, { ipv6: true }).remote.ip, '::1', 'accepted where the local side can reach IPv6');
    refused(v6.replace(/c=IN IP6 ::1/, 'c=IN IP6 ::zz'), 301, { ipv6: true });
    const short = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQ==';
    refused(offer(['m=audio 5004 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${short}`]), 304);
    refused(offer(['m=audio 5004 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGV']), 304);
    const key30 = Buffer.alloc(30, 7).toString('base64');
    // A crypto line without its tag (the answer must repeat it) and payload types RTP cannot carry are never chosen.
    refused(offer(['m=audio 5004 RTP/SAVP 0', `a=crypto: AES_CM_128_HMAC_SHA1_80 inline:${key30}`]), 304);
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0', `a=crypto: AES_CM_128_HMAC_SHA1_80 inline:${key30}`, `a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:${key30}`]), ALL).remoteSrtp?.tag, 7);
    refused(offer(['m=audio 5004 RTP/AVP 300', 'a=rtpmap:300 PCMU/8000']), 305);
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 300 128 8', 'a=rtpmap:300 PCMU/8000', 'a=rtpmap:128 PCMU/8000']), ALL).sendPt, 8);
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key30}`]), ALL).remoteSrtp?.keyBase64, key30);
  });

  it('IPv6: the family is read from c=, the address written as sockets report it, :: is hold; an answer keeps the offer\'s family', () => {
    const v6 = (ip: string, extra: string[] = []): string => ['v=0', 'o=- 1 1 IN IP6 ::1', 's=-', `c=IN IP6 ${ip}`, 't=0 0', 'm=audio 5004 RTP/AVP 0', ...extra].join('\r\n') + '\r\n';
    const n = negotiateOffer(v6('2001:DB8:0:0:0:0:0:1'), ALL, { ipv6: true });
    assert.equal(n.family, 6);
    assert.equal(n.remote.ip, '2001:db8::1', 'RFC 5952 form, as rinfo.address gives it (latching compares them)');
    assert.equal(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0']), ALL, { ipv6: true }).family, 4);
    const hold = negotiateOffer(v6('0:0:0:0:0:0:0:0', ['a=sendrecv']), ALL, { ipv6: true });
    assert.equal(hold.remote.ip, null);
    assert.equal(hold.family, 6);
    assert.equal(hold.direction, 'recvonly', 'c=IN IP6 :: holds like 0.0.0.0');
    assert.throws(() => negotiateOffer(v6('::1'), ALL), /IPv6 media is not supported here: no IPv6 media address is configured/);
    assert.throws(() => negotiateOffer(v6('fe80::1%eth0'), ALL, { ipv6: true }), (e: unknown) => e instanceof SdpNegotiationError && e.warning === 301);
    // The peer sends to the address in our offer: an answer in the other family cannot be used.
    assert.throws(() => parseAnswer(v6('::1'), ALL, null, { ipv6: true, family: 4 }), (e: unknown) => e instanceof SdpNegotiationError && e.warning === 301 && /IP6 in an answer to an offer made in IP4/.test(e.message));
    assert.throws(() => parseAnswer(offer(['m=audio 5004 RTP/AVP 0']), ALL, null, { ipv6: true, family: 6 }), /IP4 in an answer to an offer made in IP6/);
    assert.equal(parseAnswer(v6('::1'), ALL, null, { ipv6: true, family: 6 }).remote.ip, '::1');
    const ans = sdpTransform.parse(buildAnswer(n, { ip: '::1', port: 40000, rtcpPort: null, srtp: null }, session));
    assert.deepEqual([ans.origin?.ipVer, ans.connection?.version, ans.connection?.ip], [6, 6, '::1'], 'o= and c= of the answer are IP6');
    const o = sdpTransform.parse(buildOffer(ALL, { ip: '2001:db8::9', port: 40002, rtcpPort: 40003, offerMux: true, srtp: null }, session));
    assert.deepEqual([o.connection?.version, o.connection?.ip], [6, '2001:db8::9']);
  });

  it('reads a=ssrc', () => {
    assert.deepEqual(negotiateOffer(offer(['m=audio 5004 RTP/AVP 0', 'a=ssrc:1234 cname:x', 'a=ssrc:1234 label:y']), ALL).remoteSsrcs, [1234]);
  });

  it('offers every configured codec and reads the answer: we send with its types, it sends with ours', () => {
    const o = sdpTransform.parse(buildOffer(ALL, local, session));
    assert.equal(o.media[0].payloads, '0 8 9 111 101 110');
    const ans = offer(['m=audio 7000 RTP/AVP 8 100', 'a=rtpmap:100 telephone-event/8000', 'a=sendonly']);
    const n = parseAnswer(ans, ALL, null);
    assert.equal(n.codec, 'PCMA');
    assert.deepEqual(n.dtmf, { sendPt: 100, recvPt: 101, clock: 8000 });
    assert.equal(n.direction, 'recvonly');
    assert.equal(n.remote.port, 7000);
    assert.throws(() => parseAnswer(ans, ALL, { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'x' }), /dropped SRTP/);
  });

  it('a re-offer\'s payload types: the answer is read against them, not our usual ones', () => {
    const pts = { codecs: { PCMU: 0, PCMA: 8, G722: 9, opus: 107 }, dtmf: { 8000: 96, 48000: 110 } };
    const o = sdpTransform.parse(buildOffer(ALL, local, session, 'sendrecv', pts));
    assert.equal(o.media[0].payloads, '0 8 9 107 96 110');
    const n = parseAnswer(offer(['m=audio 7000 RTP/AVP 107 96', 'a=rtpmap:107 opus/48000/2', 'a=rtpmap:96 telephone-event/8000']), ALL, null, undefined, pts);
    assert.equal(n.codec, 'opus');
    assert.equal(n.recvPt, 107);
    assert.deepEqual(n.dtmf, { sendPt: 96, recvPt: 96, clock: 8000 });
    assert.deepEqual(n.peerPts, [{ pt: 107, key: 'opus/48000' }, { pt: 96, key: 'telephone-event/8000' }]);
  });
});
