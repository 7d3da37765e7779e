// A stray RTP packet (a previous call's late packet on a reused port, another
// process's stream) must not take a leg before its peer speaks. In 'latch' mode it
// used to: the leg latched to the stray's source and sent there, so a peer that
// only answers what it hears (an echo, bench:bridge's SIPp callee) never heard the
// call and its stem stayed silent for the whole call. Real UDP over loopback.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, joinPeer, startEngine, waitForSound, type JoinedPeer } from '../../helpers/media-harness.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';

async function strayTo(port: number): Promise<{ socket: Socket; send(n: number): void }> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  let seq = 7;
  return {
    socket,
    send(n) {
      for (let i = 0; i < n; i++, seq++) socket.send(buildRtp({ payloadType: 0, seq, timestamp: seq * 160, ssrc: 0x5757, payload: Buffer.alloc(160, 0x80) }), port, '127.0.0.1');
    },
  };
}

/** Waits until the leg's endpoint (a thread's snapshot) shows `n` packets taken or dropped. */
async function seen(engine: MediaEngine, leg: MediaLeg, n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await engine.nextStats();
    const st = leg.endpoint?.stats;
    if (st && st.packetsIn + st.wrongSource >= n) return;
  }
  throw new Error('the stray packets were never counted');
}

describe('stray RTP before the peer speaks (real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  /**
   * A room with A joined and B's leg made for a peer that has not sent yet, and a socket
   * sending to B's port from an address B's SDP does not name. Each is closed when the case
   * ends, whatever happens: a failed assertion must not leave peers sending (the file would
   * wait for its timeout).
   */
  async function roomWithQuietB(t: TestContext, name: string): Promise<{ a: JoinedPeer; bPeer: RtpPeer; b: MediaLeg; stray: Awaited<ReturnType<typeof strayTo>> }> {
    const room = await engine.createRoom(name);
    t.after(() => room.close());
    const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
    t.after(() => a.peer.close());
    const bPeer = await new RtpPeer({ codec: 'PCMU' }).bind();
    t.after(() => bPeer.close());
    const { leg: b, answer } = await room.createLeg(bPeer.sdp(), { id: 'b' });
    bPeer.useRemoteSdp(answer);
    const stray = await strayTo(b.endpoint!.port);
    t.after(() => stray.socket.close());
    return { a, bPeer, b, stray };
  }

  it('one stray packet does not take an echoing leg: it hears the call and is heard', async (t) => {
    // B answers only what it hears: it does not send before it hears A.
    const { a, bPeer, b, stray } = await roomWithQuietB(t, 'stray-one');
    stray.send(1);
    await seen(engine, b, 1);
    a.peer.setTone(440);
    await waitForSound(bPeer); // failed before: B's leg sent to the stray's source
    assert.ok(medianToneShare(await collect(bPeer, 25), 440, 8000) > 0.8, 'B hears A');
    bPeer.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
    await waitForSound(a.peer);
    assert.ok(medianToneShare(await collect(a.peer, 25), 1000, 8000) > 0.8, 'A hears B');
  });

  it('the signalled address takes the leg back from a source that latched first', async (t) => {
    // A stream from elsewhere that outlives the probation and never pauses for 2 s.
    const { a, bPeer, b, stray } = await roomWithQuietB(t, 'stray-stream');
    stray.send(5);
    await seen(engine, b, 5);
    const timer = setInterval(() => stray.send(1), 300);
    try {
      bPeer.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      a.peer.setTone(440);
      await waitForSound(a.peer); // failed before: B's packets were dropped as long as the stray went on
      assert.ok(medianToneShare(await collect(a.peer, 25), 1000, 8000) > 0.8, 'A hears B');
      await waitForSound(bPeer);
      assert.ok(medianToneShare(await collect(bPeer, 25), 440, 8000) > 0.8, 'B hears A');
    } finally {
      clearInterval(timer);
    }
  });

  it('a peer sending from another address than its SDP (NAT) loses none of its first packets', async (t) => {
    // B's packets come from a port its SDP does not name, as through a NAT: the source is
    // on probation for its first packets, which are held and played once it latches.
    const { a, b, stray: nat } = await roomWithQuietB(t, 'nat-start');
    nat.send(10);
    await seen(engine, b, 10);
    const st = b.endpoint!.stats;
    assert.equal(st.wrongSource, 0, `packets dropped while the source was on probation: ${JSON.stringify(st)}`);
    assert.equal(st.packetsIn, 10, 'every packet taken, the first two included');
    // And the leg now sends to where B's packets come from.
    a.peer.setTone(440);
    const heard = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10000);
      nat.socket.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.ok(heard, 'the leg sends to the latched source');
  });

  it('a stray packet held on probation is dropped when the signalled peer speaks first', async (t) => {
    const { a, bPeer, b, stray } = await roomWithQuietB(t, 'stray-held');
    stray.send(2);
    await seen(engine, b, 2);
    bPeer.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
    await waitForSound(a.peer);
    assert.ok(medianToneShare(await collect(a.peer, 25), 1000, 8000) > 0.8, 'A hears B, not the stray');
    stray.send(1);
    for (let i = 0; i < 100 && b.endpoint!.stats.wrongSource < 3; i++) await engine.nextStats();
    assert.equal(b.endpoint!.stats.wrongSource, 3, 'the stray packets stay dropped');
  });
});
