// Dual-stack media (real sockets on ::1 and 127.0.0.1, media threads): a leg's
// socket is bound in the family of its peer's c= line (media.rtpIp6 for IPv6),
// Parley's answer says c=IN IP6, and RTP, RTCP (its own port or muxed), latching
// and SRTP work as over IPv4. Without media.rtpIp6 an IPv6 offer is refused (488).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import * as sdpTransform from 'sdp-transform';
import { SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import type { MediaRoom } from '../../../src/media-plane/media-room.ts';
import { RtcpSession } from '../../../src/media-plane/rtcp/index.ts';
import { SrtpSession } from '../../../src/media-plane/srtp/index.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, joinPeer, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';
import { waitFor } from '../../helpers/wait.ts';

/** The audio stream's c= address and type, and its port, as the SDP says. */
function where(sdp: string): { type: string; ip: string; port: number; rtcpPort: number | null } {
  const s = sdpTransform.parse(sdp);
  const m = s.media.find((x) => x.type === 'audio')!;
  const c = m.connection ?? s.connection!;
  return { type: `IP${c.version}`, ip: c.ip, port: m.port, rtcpPort: m.rtcp?.port ?? null };
}

function hears(pcm: Int16Array, hz: number, rate: number, who: string): void {
  const share = medianToneShare(pcm, hz, rate);
  assert.ok(share > 0.8, `${who} hears ${hz} Hz (share ${share.toFixed(3)})`);
}

/** Both peers have sound, then each hears the other's tone: `a` hears `aHz`, `b` hears `bHz`. */
async function hearEachOther(a: RtpPeer, aHz: number, aName: string, b: RtpPeer, bHz: number, bName: string): Promise<void> {
  await Promise.all([waitForSound(a), waitForSound(b)]);
  hears(await collect(a, 50), aHz, 8000, aName);
  hears(await collect(b, 50), bHz, 8000, bName);
}

/** Offers `offer` (from `peer`) to `room` as leg v6, points the peer at the answer and starts its tone; resolves once Parley sees the peer's SSRC. */
async function joinSending(room: MediaRoom, peer: RtpPeer, offer: string, hz: number): Promise<{ leg: MediaLeg; answer: string }> {
  const { leg, answer } = await room.createLeg(offer, { id: 'v6' });
  peer.useRemoteSdp(answer);
  const flowing = leg.waitFor('inboundssrc', 5000);
  peer.start({ kind: 'tone', freq: hz, amplitude: 8000 });
  await flowing;
  return { leg, answer };
}

/** A UDP socket of the test (the peer's RTCP port, a decoy), with the datagrams it got. */
async function udp6(): Promise<{ socket: dgram.Socket; port: number; got: { msg: Buffer; address: string; port: number }[] }> {
  const socket = dgram.createSocket('udp6');
  const got: { msg: Buffer; address: string; port: number }[] = [];
  socket.on('message', (msg, r) => got.push({ msg, address: r.address, port: r.port }));
  socket.bind(0, '::1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, got };
}

describe('IPv6 media (media.rtpIp6: ::1, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ rtpIp6: '::1', rtpPortRange: { min: 43100, max: 43499 } });
  });
  after(() => engine.close());

  it('an IPv6 peer gets a socket on ::1 and c=IN IP6 in the answer; it and an IPv4 peer hear each other', async () => {
    const room = await engine.createRoom('v4-v6');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'v4' });
    const b = await joinPeer(room, { codec: 'PCMU', id: 'v6', ip: '::1' });
    try {
      assert.deepEqual(where(b.answer).type, 'IP6');
      assert.equal(where(b.answer).ip, '::1');
      assert.match(b.answer, /^o=parley \d+ \d+ IN IP6 ::1\r$/m);
      assert.equal(b.leg.endpoint!.local.ip, '::1');
      assert.equal(b.leg.media!.family, 6);
      assert.deepEqual([where(a.answer).type, where(a.answer).ip], ['IP4', '127.0.0.1'], 'the IPv4 peer is answered in IPv4');
      a.peer.setTone(440);
      b.peer.setTone(1000);
      await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
      const [heardByA, heardByB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
      hears(heardByA, 1000, 8000, 'the IPv4 peer');
      hears(heardByB, 440, 8000, 'the IPv6 peer');
      await engine.nextStats();
      const st = b.leg.endpoint!.stats;
      assert.equal(st.wrongSource + st.malformed, 0, `nothing dropped from the IPv6 peer: ${JSON.stringify(st)}`);
    } finally {
      await Promise.all([a.peer.close(), b.peer.close()]);
      room.close();
    }
  });

  it('SRTP and RTCP on its own port over IPv6: reports both ways, authenticated', async () => {
    const room = await engine.createRoom('v6-srtp');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'v4' });
    const rtcp = await udp6();
    const peer = await new RtpPeer({ codec: 'PCMU', ip: '::1', srtp: 'AES_CM_128_HMAC_SHA1_80', rtcpMux: false }).bind();
    try {
      const { leg, answer } = await joinSending(room, peer, peer.sdp([`a=rtcp:${rtcp.port}`]), 700);
      const w = where(answer);
      assert.equal(w.type, 'IP6');
      assert.equal(w.rtcpPort, w.port + 1, 'our RTCP port is the next one (not muxed: the peer did not offer it)');
      assert.doesNotMatch(answer, /a=rtcp-mux/);
      a.peer.setTone(1200);
      await hearEachOther(a.peer, 700, 'the IPv4 peer (from SRTP over IPv6)', peer, 1200, 'the IPv6 SRTP peer');
      // Parley's SRTCP report arrives at the peer's a=rtcp port, from Parley's RTCP port, and authenticates.
      const parleyKey = /a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:(\S+)/.exec(answer)![1];
      const srtcp = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: peer.srtpKey!, recvKeyBase64: parleyKey });
      const ours = new RtcpSession({ localSsrc: peer.ssrc, cname: 'peer6', clockRate: 8000 });
      await waitFor('an RTCP report from Parley', () => rtcp.got.length > 0, 15_000);
      const first = rtcp.got[0];
      assert.deepEqual([first.address, first.port], ['::1', w.rtcpPort]);
      const plain = srtcp.unprotectRtcp(first.msg);
      assert.ok(plain, 'the report is SRTCP under Parley\'s key');
      assert.ok(ours.handleRtcp(plain, performance.now()), 'a valid compound RTCP packet');
      assert.ok([200, 201].includes(plain[1]), `SR or RR first (PT ${plain[1]})`);
      // And ours reaches Parley's RTCP port over IPv6.
      rtcp.socket.send(srtcp.protectRtcp(ours.buildReport(performance.now())), w.rtcpPort!, '::1');
      await waitFor('Parley read the peer\'s report', async () => {
        await engine.nextStats();
        return (leg.rtcpStats?.reportsReceived ?? 0) >= 1;
      });
      const st = leg.endpoint!.stats;
      assert.equal(st.srtpFailures, 0, `no SRTP failures: ${JSON.stringify(st)}`);
      assert.ok(st.rtcpIn >= 1 && st.rtcpOut >= 1, `RTCP both ways: ${st.rtcpIn} in, ${st.rtcpOut} out`);
    } finally {
      rtcp.socket.close();
      await Promise.all([a.peer.close(), peer.close()]);
      room.close();
    }
  });

  it('latches to where an IPv6 peer really sends from (an SDP port nobody reads)', async () => {
    const room = await engine.createRoom('v6-latch');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'v4' });
    const decoy = await udp6();
    const peer = await new RtpPeer({ codec: 'PCMU', ip: '::1' }).bind();
    try {
      const offer = peer.sdp().replace(/^m=audio \d+ /m, `m=audio ${decoy.port} `);
      const { leg, answer } = await room.createLeg(offer, { id: 'v6' });
      peer.useRemoteSdp(answer);
      a.peer.setTone(900);
      peer.start({ kind: 'tone', freq: 600, amplitude: 8000 });
      await waitForSound(peer);
      hears(await collect(peer, 50), 900, 8000, 'the latched IPv6 peer');
      await engine.nextStats();
      assert.deepEqual(leg.endpoint!.destination, { ip: '::1', port: peer.port }, 'sending to the latched source');
      hears(await collect(a.peer, 50), 600, 8000, 'the IPv4 peer');
    } finally {
      decoy.socket.close();
      await Promise.all([a.peer.close(), peer.close()]);
      room.close();
    }
  });

  it('a re-offer that moves the peer from IPv4 to IPv6 gets a new IPv6 socket; the old port is given back', async () => {
    const room = await engine.createRoom('v4-to-v6');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
    const b = await joinPeer(room, { codec: 'PCMU', id: 'b' });
    const moved = await new RtpPeer({ codec: 'PCMU', ip: '::1' }).bind();
    try {
      const oldPort = where(b.answer).port;
      const answer = await b.leg.applyOffer(moved.sdp());
      const w = where(answer);
      assert.deepEqual([w.type, w.ip], ['IP6', '::1']);
      assert.notEqual(w.port, oldPort, 'a new socket, so a new port (RFC 3264 §8.3.1)');
      assert.equal(b.leg.endpoint!.local.ip, '::1');
      await b.peer.close();
      moved.useRemoteSdp(answer);
      moved.start({ kind: 'tone', freq: 500, amplitude: 8000 });
      a.peer.setTone(1500);
      await hearEachOther(a.peer, 500, 'a (from the moved peer)', moved, 1500, 'the moved peer');
      // The old IPv4 port is free again: something else can bind it.
      const probe = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.bind({ port: oldPort, address: '127.0.0.1', exclusive: true }, () => resolve());
      });
      probe.close();
    } finally {
      await Promise.all([a.peer.close(), moved.close()]);
      room.close();
    }
  });

  it('offers Parley makes: IPv6 when asked for it (a conference link over ::1 runs RTCP both ways); an answer in the other family is refused', async () => {
    const near = await engine.createRoom('v6-near');
    const far = await engine.createRoom('v6-far');
    try {
      const out = await near.createOutgoingLeg({ id: 'out', family: 6 });
      const o = where(out.offer);
      assert.deepEqual([o.type, o.ip, o.rtcpPort], ['IP6', '::1', o.port + 1]);
      const inc = await far.createLeg(out.offer, { id: 'in' });
      assert.equal(where(inc.answer).type, 'IP6');
      await out.leg.applyAnswer(inc.answer);
      await waitFor(
        'RTT on both ends over IPv6',
        async () => {
          await engine.nextStats();
          return out.leg.rtcpStats?.rttMs != null && inc.leg.rtcpStats?.rttMs != null;
        },
        20_000,
      );
      assert.equal(out.leg.endpoint!.hasRtcpPort, false, 'the answer took rtcp-mux: the RTCP port was given up');
      const v4 = await near.createOutgoingLeg({ id: 'out4' });
      assert.equal(where(v4.offer).type, 'IP4', 'IPv4 when the target\'s family is not known');
      const wrong = await near.createOutgoingLeg({ id: 'wrong', family: 6 });
      const peer4 = await new RtpPeer({ codec: 'PCMU' }).bind();
      await assert.rejects(wrong.leg.applyAnswer(peer4.sdp()), (e: unknown) => e instanceof Error && e.name === 'SdpNegotiationError' && /IP4 in an answer to an offer made in IP6/.test(e.message));
      await peer4.close();
    } finally {
      near.close();
      far.close();
    }
  });
});

describe('IPv6 media, other configurations', () => {
  it('without media.rtpIp6 an IPv6 offer is refused (488, Warning 301, nothing bound), a re-offer to IPv6 too, and IPv6 targets get IPv4 offers', async () => {
    const engine = await startEngine({ rtpPortRange: { min: 43500, max: 43899 } });
    const room = await engine.createRoom('no-v6');
    const peer6 = await new RtpPeer({ codec: 'PCMU', ip: '::1' }).bind();
    try {
      await assert.rejects(room.createLeg(peer6.sdp(), { id: 'v6' }), (e: unknown) => {
        assert.equal(e instanceof Error && e.name, 'SdpNegotiationError');
        const err = e as SdpNegotiationError;
        assert.equal(err.sipStatus, 488);
        assert.equal(err.warning, 301);
        assert.match(err.message, /IPv6 media is not supported here: no IPv6 media address is configured/);
        return true;
      });
      await engine.nextStats();
      assert.equal(engine.portsInUse, 0, 'no socket was bound for it');
      const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
      const b = await joinPeer(room, { codec: 'PCMU', id: 'b' });
      const port = b.leg.endpoint!.port;
      await assert.rejects(b.leg.applyOffer(peer6.sdp()), /IPv6 media is not supported here/);
      a.peer.setTone(800);
      await waitForSound(b.peer);
      hears(await collect(b.peer, 50), 800, 8000, 'b, still on its IPv4 port after the refused re-offer');
      assert.equal(b.leg.endpoint!.port, port);
      const out = await room.createOutgoingLeg({ id: 'out', family: 6 });
      assert.equal(where(out.offer).type, 'IP4', 'no IPv6 media: IPv4 even for an IPv6 target');
      await Promise.all([a.peer.close(), b.peer.close()]);
    } finally {
      await peer6.close();
      room.close();
      engine.close();
    }
  });

  it('strict latching accepts an IPv6 peer whose SDP writes its address out in full (compared in RFC 5952 form)', async () => {
    const engine = await startEngine({ rtpIp6: '::1', latching: 'strict', rtpPortRange: { min: 43900, max: 43999 } });
    const room = await engine.createRoom('v6-strict');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'v4' });
    const peer = await new RtpPeer({ codec: 'PCMU', ip: '::1' }).bind();
    try {
      const offer = peer.sdp().replace(/IN IP6 ::1/g, 'IN IP6 0:0:0:0:0:0:0:1');
      const { leg } = await joinSending(room, peer, offer, 650);
      a.peer.setTone(350);
      await hearEachOther(a.peer, 650, 'the IPv4 peer', peer, 350, 'the IPv6 peer');
      await engine.nextStats();
      assert.equal(leg.endpoint!.stats.wrongSource, 0);
    } finally {
      await Promise.all([a.peer.close(), peer.close()]);
      room.close();
      engine.close();
    }
  });
});
