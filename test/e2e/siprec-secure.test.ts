// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// SIPREC with the secure transports real SBCs use: SDES-SRTP streams (one suite per
// stream) from a SIPp SRC with Node RTP peers that speak SRTP; and SIP over TLS with a
// large INVITE (metadata of 40 participants, about 12 KB: beyond a UDP datagram on a
// real network) sent by hand over one TLS connection, its streams SRTP too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { header, TlsSipPeer } from '../helpers/tls-sip-peer.ts';
import { tlsParleyPerSuite } from '../helpers/tls-parley.ts';
import { waitFor } from '../helpers/wait.ts';
import { runSrc, share, sidecarOf, SIPREC_ROUTING, stemOf, TONES } from './siprec-helpers.ts';

const yaml = SIPREC_ROUTING;
const { A, B } = TONES;

function largeMetadata(participants: number): string {
  const x = [`<?xml version="1.0" encoding="UTF-8"?>`, `<recording xmlns="urn:ietf:params:xml:ns:recording:1">`, `<datamode>complete</datamode>`,
    `<group group_id="tls-group"><associate-time>2026-12-02T16:00:00Z</associate-time></group>`,
    `<session session_id="tls-session"><group-ref>tls-group</group-ref></session>`];
  for (let i = 0; i < participants; i++) {
    x.push(`<participant participant_id="p${i}"><nameID aor="sip:party${i}@example.com"><name>Party ${i}</name></nameID></participant>`);
  }
  x.push(`<stream stream_id="st-1" session_id="tls-session"><label>1</label></stream>`, `<stream stream_id="st-2" session_id="tls-session"><label>2</label></stream>`);
  x.push(`<participantstreamassoc participant_id="p0"><send>st-1</send></participantstreamassoc>`, `<participantstreamassoc participant_id="p1"><send>st-2</send></participantstreamassoc>`);
  x.push(`<extensiondata xmlns:v="urn:example:vendor"><v:note>${'x'.repeat(4000)}</v:note></extensiondata>`, `</recording>`);
  return x.join('\r\n');
}

describe('SIPREC over SRTP and TLS', () => {
  const tls = tlsParleyPerSuite(yaml);

  it('SDES-SRTP streams (AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM) from a SIPp SRC: answered RTP/SAVP with keys, each stem its tone', async () => {
    const { parley } = tls();
    const { meta, sipp, peers } = await runSrc(parley, 'siprec-srtp.xml', { tones: [A, B], srtp: ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] });
    const ok = sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && /CSeq: 1 INVITE/.test(m))!;
    assert.equal(ok.match(/^m=audio [1-9]\d* RTP\/SAVP/gm)?.length, 2);
    assert.match(ok, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[\s\S]*a=crypto:1 AEAD_AES_128_GCM inline:/);
    for (const p of peers) assert.equal(p.received.length, 0);
    const s0 = stemOf(parley, meta, 's0');
    const s1 = stemOf(parley, meta, 's1');
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8 && share(s0.samples, s0.sampleRate, B) < 0.02);
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8 && share(s1.samples, s1.sampleRate, A) < 0.02);
  });

  it('SIP over TLS with a large INVITE (about 12 KB of multipart body) and SRTP streams', async () => {
    const { parley, pki, tlsPort } = tls();
    const peer = await TlsSipPeer.connect(tlsPort, { ca: pki.ca, servername: 'localhost' });
    const rtp = await Promise.all([A, B].map(() => new RtpPeer({ codec: 'PCMU', srtp: 'AES_CM_128_HMAC_SHA1_80' }).bind()));
    const callId = `tls-${randomBytes(6).toString('hex')}@test`;
    const me = `127.0.0.1:${peer.localPort}`;
    const sdp = ['v=0', 'o=SRC 1 1 IN IP4 127.0.0.1', 's=SRC', 'c=IN IP4 127.0.0.1', 't=0 0',
      ...rtp.flatMap((p, i) => [`m=audio ${p.port} RTP/SAVP 0`, 'a=rtpmap:0 PCMU/8000', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${p.srtpKey}`, `a=label:${i + 1}`, 'a=sendonly'])].join('\r\n') + '\r\n';
    const body = ['--b-tls', 'Content-Type: application/rs-metadata+xml', '', largeMetadata(40), '--b-tls', 'Content-Type: application/sdp', '', sdp, '--b-tls--', ''].join('\r\n');
    assert.ok(Buffer.byteLength(body) > 9000, `a large body (${Buffer.byteLength(body)} bytes)`);
    const headers = (method: string, cseq: number, ruri: string, toTag = ''): string[] => [
      `${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/TLS ${me};branch=z9hG4bK${randomBytes(6).toString('hex')}`, `From: <sip:src@example.com>;tag=src-1`,
      `To: <sip:srs@127.0.0.1>${toTag ? `;tag=${toTag}` : ''}`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`,
      `Contact: <sip:src@${me};transport=tls>;+sip.src`, 'Max-Forwards: 70'];
    const started = new Promise<void>((resolve) => parley.app.calls!.once('callstart', () => resolve()));
    peer.send([...headers('INVITE', 1, `sip:srs@127.0.0.1:${tlsPort};transport=tls`), 'Require: siprec', 'Content-Type: multipart/mixed; boundary="b-tls"', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
    const ok = await peer.nextMatching(/^SIP\/2\.0 200/, 10_000);
    await started;
    const toTag = /;tag=([^;\s]+)/.exec(header(ok, 'To') ?? '')![1]!;
    const contact = /<([^>]+)>/.exec(header(ok, 'Contact') ?? '')![1]!;
    peer.send([...headers('ACK', 1, contact, toTag), 'Content-Length: 0', '', ''].join('\r\n'));
    assert.equal(header(ok, 'Content-Type'), 'application/sdp');
    const sections = ok.split(/\r\nm=/).slice(1);
    assert.equal(sections.length, 2);
    const active = [...parley.app.calls!.active.values()].find((c) => c.call.callId === callId)!;
    rtp.forEach((p, i) => {
      p.useRemoteSdp(active.call.room.leg(`s${i}`)!.localSdp);
      p.start({ kind: 'tone', freq: [A, B][i]!, amplitude: 8000 });
    });
    await waitFor('2 s of SRTP recorded', () => active.call.room.leg('s1')!.endpoint!.stats.packetsIn > 100, 10_000);
    const ended = new Promise<void>((resolve) => parley.app.calls!.once('callend', () => resolve()));
    peer.send([...headers('BYE', 2, contact, toTag), 'Content-Length: 0', '', ''].join('\r\n'));
    await peer.nextMatching(/^SIP\/2\.0 200/, 5000);
    await ended;
    peer.close();
    for (const p of rtp) await p.close();
    const meta = sidecarOf(parley, callId);
    assert.equal(meta.siprec!.participants.length, 40);
    assert.equal(meta.siprec!.groupId, 'tls-group');
    const s0 = stemOf(parley, meta, 's0');
    const s1 = stemOf(parley, meta, 's1');
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8 && share(s0.samples, s0.sampleRate, B) < 0.02);
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8 && share(s1.samples, s1.sampleRate, A) < 0.02);
  });
});
