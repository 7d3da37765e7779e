// Attacks on a live recorded leg from its own peer's address (what a peer, or anyone
// spoofing it, can send): malformed compound RTCP (a zero length word, a length past
// the end, an unknown type, a report claiming more blocks than it holds, bad padding),
// RTP whose CSRC count, extension length or padding lie, RTP of a payload type never
// negotiated, and duplicates of packets already received carrying full-scale noise.
// The session must go on, none of it may reach the recording (the stem holds the
// peer's tone and nothing else), and the leg must count what it dropped.
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { purity, rms } from '../helpers/audio-analysis.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { finalSidecar, metadata, multipart, RawSrc, sdp } from './adversary-src.ts';
import { SIPREC_ROUTING, stemOf } from './siprec-helpers.ts';

const HZ = 440;

/** RTCP: common header (V=2, `count`, `pt`, `lengthWords`) and `body` bytes. */
function rtcp(count: number, pt: number, lengthWords: number, body: number[], padding = false): Buffer {
  return Buffer.from([0x80 | (padding ? 0x20 : 0) | count, pt, lengthWords >> 8, lengthWords & 0xff, ...body]);
}

/** RTP of PT `pt` (marker clear), seq, timestamp, SSRC, with the first byte `b0` and `payload`. */
function rtp(b0: number, pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = b0;
  h[1] = pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

/** µ-law 0x00: full-scale negative samples, as loud as noise gets. */
const LOUD = Buffer.alloc(160, 0x00);

describe('adversary: RTCP and RTP lies on a live recorded leg', () => {
  const parley = parleyPerSuite(SIPREC_ROUTING);

  it('malformed RTCP, RTP whose header lies, an unknown payload type and noisy duplicates: the session goes on, the stem holds the tone only, the drops are counted', async () => {
    const p = parley();
    const calls = p.app.calls!;
    const ua = await RawSipClient.open();
    const peer = await new RtpPeer({ codec: 'PCMU', latch: false }).bind();
    try {
      const src = new RawSrc(ua, p.sipPort);
      const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
      const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
      assert.equal(await src.invite(multipart([['application/sdp', sdp(peer.port, ['a=rtcp-mux'])], ['application/rs-metadata+xml', metadata(1)]])), 200);
      const call = (await started).call;
      await waitFor('the session recording', () => call.activeRecording ?? undefined, 10_000);
      const leg = call.room.leg('s0')!;
      peer.useRemoteSdp(leg.localSdp);
      // The peer's own packets are what the duplicates copy: sequence number, timestamp, SSRC.
      const sock = (peer as unknown as { socket: dgram.Socket }).socket;
      const remote = (peer as unknown as { remote: { ip: string; port: number } }).remote;
      let last: Buffer | null = null;
      const send = sock.send.bind(sock) as (b: Buffer, port: number, ip: string) => void;
      (sock as unknown as { send: typeof send }).send = (b, port, ip) => {
        if (b.length >= 12 && (b[1]! & 0x7f) === 0) last = Buffer.from(b);
        send(b, port, ip);
      };
      peer.start({ kind: 'tone', freq: HZ, amplitude: 8000 });
      await waitFor('the peer streaming', () => last ?? undefined, 5000);

      const attacks: ((l: Buffer) => Buffer)[] = [
        () => rtcp(0, 200, 0, []), // SR with a zero length word: no room for the sender info
        () => rtcp(1, 201, 0xff, [0, 0, 0, 1, ...new Array<number>(24).fill(0)]), // length past the end
        () => rtcp(0, 210, 1, [1, 2, 3, 4]), // an unknown type, sound header (accepted, ignored)
        () => rtcp(31, 201, 7, new Array<number>(28).fill(0)), // RR claiming 31 blocks, room for one
        () => rtcp(0, 201, 1, [0, 0, 0, 0], true), // padding bit with a pad count of 0
        () => Buffer.concat([rtcp(0, 201, 1, [0, 0, 0, 9]), Buffer.from([0x80, 202])]), // a compound cut short
        (l) => rtp(0x8f, 0, l.readUInt16BE(2) + 1, l.readUInt32BE(4) + 160, l.readUInt32BE(8), LOUD.subarray(0, 20)), // 15 CSRCs in 32 bytes
        (l) => rtp(0x90, 0, l.readUInt16BE(2) + 1, l.readUInt32BE(4) + 160, l.readUInt32BE(8), Buffer.concat([Buffer.from([0xbe, 0xde, 0x40, 0x00]), LOUD])), // extension of 16384 words
        (l) => rtp(0xa0, 0, l.readUInt16BE(2) + 1, l.readUInt32BE(4) + 160, l.readUInt32BE(8), Buffer.concat([LOUD.subarray(0, 20), Buffer.from([255])])), // 255 bytes of padding in 33
        (l) => rtp(0xa0, 0, l.readUInt16BE(2) + 1, l.readUInt32BE(4) + 160, l.readUInt32BE(8), Buffer.concat([LOUD, Buffer.from([0])])), // padding count 0
        (l) => rtp(0x80, 99, l.readUInt16BE(2) + 1, l.readUInt32BE(4) + 160, l.readUInt32BE(8), LOUD), // PT 99, never negotiated
        (l) => rtp(0x80, 0, l.readUInt16BE(2), l.readUInt32BE(4), l.readUInt32BE(8), LOUD), // the last packet again, noise inside
        (l) => rtp(0x80, 0, l.readUInt16BE(2) - 5, l.readUInt32BE(4) - 800, l.readUInt32BE(8), LOUD), // one from 100 ms ago (still buffered), noise inside
      ];
      await p.app.media!.nextStats();
      const before = { ...leg.endpoint!.stats };
      // 2 s of attacks, one every 10 ms, between the peer's own packets.
      for (let i = 0; i < 200; i++) {
        send(attacks[i % attacks.length]!(last!), remote.port, remote.ip);
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 1000));
      await p.app.media!.nextStats();
      const after = leg.endpoint!.stats;
      assert.ok(after.malformed - before.malformed >= 60, `malformed counted: ${after.malformed - before.malformed}`);
      assert.ok(after.unexpectedPt - before.unexpectedPt >= 10, `unexpected PT counted: ${after.unexpectedPt - before.unexpectedPt}`);
      assert.ok(!call.ended, 'the session goes on');
      assert.equal(await src.request('BYE', null), 200);
      await ended;

      const meta = await finalSidecar(p, src.callId);
      const stem = stemOf(p, meta, 's0');
      // 100 ms blocks from the second one to the last but one: the tone (amplitude 8000:
      // rms 0.17), nothing else. A single noisy frame in a block puts its other energy past 0.2.
      const n = stem.sampleRate / 10;
      const bad: string[] = [];
      let toned = 0;
      for (let s = n; s + 2 * n <= stem.samples.length; s += n) {
        const level = rms(stem.samples, s, n);
        const share = purity(stem.samples, stem.sampleRate, HZ, s, n);
        const other = level * Math.sqrt(Math.max(0, 1 - share));
        if (other > 0.05) bad.push(`${(s / stem.sampleRate).toFixed(1)} s: other ${other.toFixed(3)}`);
        if (share > 0.9 && level > 0.1) toned++;
      }
      assert.deepEqual(bad, [], 'nothing but the tone in the stem');
      assert.ok(toned >= 25, `the tone is there: ${toned} blocks`);
    } finally {
      await peer.close();
      ua.close();
    }
  });
});
