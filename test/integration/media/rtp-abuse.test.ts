// Garbage and floods sent to a leg's RTP port do not disturb the call: while a
// rogue socket throws random bytes and a storm of well-formed RTP with unknown
// SSRCs at leg A's port, A and B keep hearing each other's tones and nothing
// else (no packet of either stream carries junk), and every rogue datagram is
// accounted for: dropped and counted by A's endpoint, or dropped by the kernel
// before the media thread could read it (how fast a loaded machine schedules
// that thread is the OS's business, not Parley's: it is not asserted).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { toneByPacket } from '../../helpers/peer-hearing.ts';
import { inRoom, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { udpDrops } from '../../helpers/udp-drops.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('RTP garbage and floods (real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('other legs keep their audio while one leg is flooded', () => inRoom(engine, 'abuse', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    const b = await join(room, { codec: 'PCMU', id: 'b' });
    a.peer.setTone(440);
    b.peer.setTone(1000);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    const port = a.leg.endpoint!.port;
    const aSent0 = a.peer.sentAt.length;
    await engine.nextStats(); // stats from a media thread are snapshots: a fresh one
    const st0 = { ...a.leg.endpoint!.stats };
    const drops0 = await udpDrops(port);
    const rogue = createSocket('udp4');
    rogue.bind(0, '127.0.0.1');
    await once(rogue, 'listening');
    // The datagrams are made once and sent in turn (the RTP ones get their sequence
    // number, timestamp and a new random SSRC written in before each send): making
    // 20,000 random datagrams a second took this process's CPU from the cores the
    // room's thread shares with it. A datagram is rewritten two rounds (10 ms) after its send. Half the
    // RTP ones carry the leg's own payload type (PCMU, 0): played, their noise would be heard.
    const pool = Array.from({ length: 400 }, (_, i) =>
      i % 2 === 0 ? randomBytes(1 + (i % 300)) : buildRtp({ payloadType: i % 4 === 1 ? 0 : i % 128, seq: 0, timestamp: 0, ssrc: 0, payload: randomBytes(160) }),
    );
    // 20,000 datagrams at 200 every 10 ms (issue 11's 20,000 packets/s, if the timers keep time), and on
    // until each peer heard 75 packets (1.5 s) meanwhile: how fast a loaded machine runs this loop changes
    // the rate, not what is sent or what is checked.
    const fromA = a.peer.received.length;
    const fromB = b.peer.received.length;
    let sent = 0;
    let stop = false;
    const flooding = (): boolean => sent < 20_000 || a.peer.received.length < fromA + 75 || b.peer.received.length < fromB + 75;
    const flood = (async () => {
      while (!stop && flooding()) {
        for (let i = 0; i < 200; i++) {
          const junk = pool[sent % pool.length];
          if (sent % 2 === 1) {
            junk.writeUInt16BE(sent & 0xffff, 2);
            junk.writeUInt32BE((sent * 160) >>> 0, 4);
            junk.writeUInt32BE((Math.random() * 0xffffffff) >>> 0, 8);
          }
          rogue.send(junk, port, '127.0.0.1');
          sent++;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // The flood stops whatever happens (a peer that hears nothing must not leave it running: the file would wait for its timeout).
    await waitFor('the flood and 75 packets heard by each peer', () => !flooding(), 60_000).finally(async () => {
      stop = true;
      await flood;
      rogue.close();
    });
    const heardByA = a.peer.decoded(fromA);
    const heardByB = b.peer.decoded(fromB);
    assert.ok(medianToneShare(heardByA, 1000, 8000) > 0.8, `A still hears B (${medianToneShare(heardByA, 1000, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByB, 440, 8000) > 0.8, `B still hears A (${medianToneShare(heardByB, 440, 8000).toFixed(3)})`);
    // Nothing but the tone in any packet (a late packet concealed, a silence filled in, leave no residue;
    // a junk payload played or mixed would leave as much as the tone's level in its packets).
    for (const [pcm, hz, who] of [[heardByA, 1000, 'A'], [heardByB, 440, 'B']] as const) {
      const worst = Math.max(...toneByPacket(pcm, hz).map((p) => p.residual));
      assert.ok(worst < 0.02, `${who} heard something besides the ${hz} Hz tone in a packet (residue ${worst.toFixed(4)} of full scale)`);
    }
    // Every rogue datagram is accounted for: dropped and counted at A's endpoint (malformed, another protocol's first byte, from a
    // wrong source; RTCP-shaped bytes from the peer's host go to RTCP, which counts what it cannot
    // parse as malformed too), or dropped by the kernel for the socket while its thread did not read
    // (kernel drops may also be A's own packets: that only loosens the sum).
    const junk = (s: typeof st0): number => s.malformed + s.otherProtocol + s.wrongSource + s.unexpectedPt + s.rtcpIn;
    let kernel = 0;
    await waitFor(`the ${sent} rogue datagrams accounted for`, async () => {
      await engine.nextStats();
      kernel = (await udpDrops(port)) - drops0;
      return junk(a.leg.endpoint!.stats) - junk(st0) + kernel >= sent;
    }, 15_000).catch((err: Error) => {
      const st = a.leg.endpoint!.stats;
      throw new Error(`${err.message}: ${st.malformed - st0.malformed} malformed + ${st.otherProtocol - st0.otherProtocol} other protocol + ${st.wrongSource - st0.wrongSource} wrong source + ${st.unexpectedPt - st0.unexpectedPt} unexpected PT + ${st.rtcpIn - st0.rtcpIn} RTCP-shaped + ${kernel} dropped by the kernel of ${sent}`);
    });
    // None was taken as A's audio: A's endpoint took no more RTP than A's peer sent (and a few that were
    // on their way when the first snapshot was taken).
    const taken = a.leg.endpoint!.stats.packetsIn - st0.packetsIn;
    assert.ok(taken <= a.peer.sentAt.length - aSent0 + 5, `A's endpoint took ${taken} RTP packets, A's peer sent ${a.peer.sentAt.length - aSent0}`);
  }));
});
