import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { MediaClosedError, SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import { inRoom, startEngine } from '../../helpers/media-harness.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';
import { ToneSource } from '../../helpers/tone-source.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('lifetimes and the close cascade (real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('closing a room closes its legs first, each once, then the room once, whoever closes again', () => inRoom(engine, 'cascade', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    const b = await join(room, { codec: 'PCMU', id: 'b' });
    const whisper = new ToneSource(1000, room.mixerSampleRate);
    const prompt = new ToneSource(500, room.mixerSampleRate);
    a.leg.play(whisper);
    room.play(prompt);
    const order: string[] = [];
    a.leg.on('close', (r) => order.push(`a:${r}`));
    b.leg.on('close', (r) => order.push(`b:${r}`));
    room.on('legclose', (l) => order.push(`legclose:${l.id}`));
    room.on('close', (r) => order.push(`room:${r}`));
    const port = a.leg.endpoint!.port;
    const portsBefore = engine.portsInUse;
    room.close();
    room.close();
    a.leg.close();
    // Each leg tells its parent (legclose), then emits its own terminal event; the room's comes last.
    assert.deepEqual(order, ['legclose:a', 'a:room-closed', 'legclose:b', 'b:room-closed', 'room:closed']);
    assert.equal(a.leg.endpoint, null, 'the leg let go of its endpoint');
    assert.equal(engine.portsInUse, portsBefore - 2, 'both legs\' ports are released');
    // The port is really closed (once the RTCP BYE has left): it can be bound again.
    await waitFor('the port free again', async () => {
      const again = createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        again.once('error', () => resolve(false));
        again.bind(port, '127.0.0.1', () => resolve(true));
      });
      again.close();
      return ok || undefined;
    }, 2000);
    assert.ok(whisper.stopped && prompt.stopped, 'sources playing are stopped');
    assert.equal(engine.room('cascade'), undefined);
    assert.equal(room.size, 0);
    await assert.rejects(room.createLeg(a.peer.sdp()), MediaClosedError);
    assert.throws(() => a.leg.mute(), MediaClosedError);
  }));

  it('closing a leg leaves the room and the other legs running', () => inRoom(engine, 'one-leg', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    const b = await join(room, { codec: 'PCMU', id: 'b' });
    let closes = 0;
    a.leg.on('close', () => closes++);
    a.leg.close();
    a.leg.close();
    assert.equal(closes, 1);
    assert.deepEqual(room.legIds, ['b']);
    const before = b.peer.received.length;
    await b.peer.waitForPackets(before + 5);
  }));

  it('a first offer without a usable codec rejects with 488 and leaves no leg behind', async (t) => {
    const room = await engine.createRoom('bad-offer');
    t.after(() => room.close());
    const peer = await new RtpPeer({ codec: 'PCMU' }).bind();
    t.after(() => peer.close()); // whatever happens: an open peer would keep the file waiting for its timeout
    const sdp = peer.sdp().replace(/RTP\/AVP 0 101/, 'RTP/AVP 18').replace(/a=rtpmap:0 PCMU\/8000/, 'a=rtpmap:18 G729/8000');
    await assert.rejects(room.createLeg(sdp, { id: 'x' }), (e: unknown) => e instanceof SdpNegotiationError && e.sipStatus === 488);
    assert.equal(room.size, 0);
  });

  it('an outgoing leg takes roles and sources before its answer; closing it stops a queued source', async () => {
    const room = await engine.createRoom('pending');
    const { leg, offer } = await room.createOutgoingLeg({ id: 'out' });
    assert.match(offer, /m=audio \d+ RTP\/AVP/);
    leg.mute();
    leg.speakTo(['x']);
    const queued = new ToneSource(440, room.mixerSampleRate);
    leg.play(queued);
    await assert.rejects(leg.applyAnswer('v=0\r\n'), SdpNegotiationError);
    leg.close();
    assert.ok(queued.stopped);
    room.close();
  });
});
