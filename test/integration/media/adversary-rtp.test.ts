// RTP whose first bytes look right (version 2, a negotiated payload type) but whose header
// lies: 15 CSRCs in a 12-byte packet, a header extension longer than the packet, a padding
// count larger than the payload or zero. Such packets were taken as the peer's: they latched
// the leg to their sender (the real peer's audio was then dropped as "wrong source"), told
// the room of a new SSRC and counted as received. They are malformed: dropped and counted.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';

const ROGUE_SSRC = 0x0badf00d;

/** PCMU (payload type 0) packets with a lying header, each well-formed in its first two bytes. */
function lyingPackets(): Buffer[] {
  const base = (): Buffer => buildRtp({ payloadType: 0, seq: 7, timestamp: 160, ssrc: ROGUE_SSRC, payload: Buffer.alloc(20, 0xff) });
  const csrc = base().subarray(0, 12);
  csrc[0] = 0x8f; // CC = 15: 60 bytes of CSRCs the packet does not have
  const ext = base();
  ext[0] |= 0x10;
  ext.writeUInt16BE(0xffff, 14); // an extension of 65535 words
  const pad = base();
  pad[0] |= 0x20;
  pad[pad.length - 1] = 200; // 200 bytes of padding in a 32-byte packet
  const pad0 = base();
  pad0[0] |= 0x20;
  pad0[pad0.length - 1] = 0; // the padding count includes itself (RFC 3550 §5.1): never 0
  return [csrc, ext, pad, pad0];
}

describe('adversary: RTP with a lying header', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('is dropped and counted as malformed, latches nothing, and the real peer is heard', async () => {
    const room = await engine.createRoom('lying-rtp');
    const peer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const other = await new RtpPeer({ codec: 'PCMU' }).bind();
    const rogue = createSocket('udp4');
    try {
      const { leg, answer } = await room.createLeg(peer.sdp(), { id: 'a' });
      const b = await room.createLeg(other.sdp(), { id: 'b' });
      peer.useRemoteSdp(answer);
      other.useRemoteSdp(b.answer);
      const ssrcs: number[] = [];
      leg.on('inboundssrc', (s: number) => ssrcs.push(s));
      // The rogue speaks first, before the peer's first packet, as an attacker racing the latch would.
      rogue.bind(0, '127.0.0.1');
      await once(rogue, 'listening');
      const port = leg.endpoint!.port;
      const packets = lyingPackets();
      for (let round = 0; round < 25; round++) for (const p of packets) rogue.send(p, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 300));

      peer.start();
      peer.setTone(440);
      other.start({ kind: 'silence' });
      await waitForSound(other); // the peer's tone reaches the other leg through the mix
      await engine.nextStats();
      const st = leg.endpoint!.stats;
      assert.equal(st.wrongSource, 0, `the peer's packets were dropped as coming from a wrong source (${st.wrongSource}): the rogue latched`);
      assert.ok(st.malformed >= 100, `${st.malformed} of 100 lying packets counted as malformed`);
      assert.ok(!ssrcs.includes(ROGUE_SSRC), 'the rogue SSRC was reported as the peer\'s');
    } finally {
      // A failed assertion must not leave the room, its peers or the rogue open (the file would wait for its timeout).
      rogue.close();
      await Promise.all([peer.close(), other.close()]);
      room.close();
    }
  });
});
