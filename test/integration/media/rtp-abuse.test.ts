// Garbage and floods sent to a leg's RTP port do not disturb the other legs:
// while a rogue socket throws random bytes and a storm of well-formed RTP with
// unknown SSRCs at leg A's port, A and B keep hearing each other's tones, and the
// room's clock stays on time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, inRoom, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { buildRtp } from '../../helpers/rtp.ts';

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
    await engine.nextStats(); // stats from a media thread are snapshots: a fresh one
    const before = { ...room.mixerStats };

    const port = a.leg.endpoint!.port;
    const rogue = createSocket('udp4');
    rogue.bind(0, '127.0.0.1');
    await once(rogue, 'listening');
    // The datagrams are made once and sent in turn (the RTP ones get their sequence
    // number, timestamp and a new random SSRC written in before each send): making
    // 20,000 random datagrams a second took this process's CPU from the cores the
    // room's thread shares with it. A datagram is rewritten two rounds (10 ms) after its send.
    const pool = Array.from({ length: 400 }, (_, i) =>
      i % 2 === 0 ? randomBytes(1 + (i % 300)) : buildRtp({ payloadType: i % 128, seq: 0, timestamp: 0, ssrc: 0, payload: randomBytes(160) }),
    );
    let sent = 0;
    let stop = false;
    const flood = (async () => {
      while (!stop) {
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
        // 200 datagrams every 10 ms: the 20,000 packets/s of issue 11's flood.
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // The flood stops whatever happens (a failed collect must not leave it running: the file would wait for its timeout).
    const [heardByA, heardByB] = await Promise.all([collect(a.peer, 75), collect(b.peer, 75)]).finally(async () => {
      stop = true;
      await flood;
      rogue.close();
    });
    await engine.nextStats();
    assert.ok(sent > 10000, `the flood sent ${sent} datagrams`);
    assert.ok(medianToneShare(heardByA, 1000, 8000) > 0.8, `A still hears B (${medianToneShare(heardByA, 1000, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByB, 440, 8000) > 0.8, `B still hears A (${medianToneShare(heardByB, 440, 8000).toFixed(3)})`);
    const after = room.mixerStats;
    const ticks = after.ticks - before.ticks;
    const late = after.late - before.late;
    assert.ok(ticks > 50, `the room ticked ${ticks} times`);
    assert.ok(late / ticks < 0.1, `late ticks during the flood: ${late}/${ticks}`);
    // Every rogue datagram was dropped and counted at A's endpoint, none reached the mix.
    const st = a.leg.endpoint!.stats;
    assert.ok(st.malformed + st.wrongSource >= sent * 0.9, `drops counted: ${st.malformed} malformed + ${st.wrongSource} wrong source of ${sent}`);
  }));
});
