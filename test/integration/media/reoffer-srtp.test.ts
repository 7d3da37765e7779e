import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, inRoom, joinPeer, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';

describe('re-offers, outgoing legs, SRTP and latching (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('hold (sendonly) stops what the leg receives, resume restarts it; a bad re-offer leaves the leg as it was', () => inRoom(engine, 'hold', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    const b = await join(room, { codec: 'PCMU' });
    a.peer.setTone(600);
    b.peer.setTone(1400);
    await waitForSound(b.peer);
    const held = await b.leg.applyOffer(b.peer.sdp([], 'sendonly'));
    assert.match(held, /a=recvonly/);
    // The consumer is paused once applyOffer resolves: while a receives 30 more
    // packets (600 ms), b may only get what was already in flight.
    const atHold = b.peer.received.length;
    const heardByA = await collect(a.peer, 30);
    assert.ok(b.peer.received.length - atHold <= 2, `held leg still received ${b.peer.received.length - atHold} packets`);
    assert.ok(medianToneShare(heardByA, 1400, 8000) > 0.8, 'the held leg is still heard (it sends)');
    await assert.rejects(b.leg.applyOffer(b.peer.sdp().replace('RTP/AVP 0 101', 'RTP/AVP 18')), SdpNegotiationError);
    const resumed = await b.leg.applyOffer(b.peer.sdp());
    assert.match(resumed, /a=sendrecv/);
    const heardByB = await collect(b.peer, 30);
    assert.ok(medianToneShare(heardByB, 600, 8000) > 0.8, 'after resume b hears a again');
  }));

  it('a re-offer that repeats the session (a session refresh) gets the same answer, o= version and all; one that changes our answer gets the next version', () => inRoom(engine, 'refresh', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    const version = (sdp: string): number => Number(/^o=\S+ \S+ (\d+) /m.exec(sdp)![1]);
    const first = a.answer;
    const again = await a.leg.applyOffer(a.peer.sdp());
    assert.equal(again, first, 'the same answer, byte for byte (RFC 3264 §8: its version only goes up when it changes)');
    const held = await a.leg.applyOffer(a.peer.sdp([], 'sendonly'));
    assert.equal(version(held), version(first) + 1, 'recvonly now: the next version');
    const resumed = await a.leg.applyOffer(a.peer.sdp());
    assert.equal(version(resumed), version(first) + 2, 'sendrecv again: a change again, the next version');
    assert.equal(await a.leg.applyOffer(a.peer.sdp()), resumed, 'and a refresh repeats it');
  }));

  it("a re-offer that drops or adds telephone-event tells the leg's listeners ('media')", () => inRoom(engine, 'media-event', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    assert.notEqual(a.leg.media?.dtmf, null);
    const seen: (number | null)[] = [];
    a.leg.on('media', (m) => seen.push(m?.dtmf?.recvPt ?? null));
    const noTe = a.peer.sdp().replace('RTP/AVP 0 101', 'RTP/AVP 0').replace(/^a=(rtpmap|fmtp):101 .*\r\n/gm, '');
    assert.doesNotMatch(await a.leg.applyOffer(noTe), /telephone-event/);
    await a.leg.applyOffer(a.peer.sdp());
    assert.deepEqual(seen, [null, 101]);
    assert.equal(a.leg.media?.dtmf?.recvPt, 101);
  }));

  it('a re-offer with a new address and codec moves the stream', () => inRoom(engine, 'move', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    const b = await join(room, { codec: 'PCMU' });
    a.peer.setTone(600);
    await waitForSound(b.peer);
    const moved = await new RtpPeer({ codec: 'G722' }).bind();
    try {
      const answer = await b.leg.applyOffer(moved.sdp());
      assert.match(answer, /RTP\/AVP 9 101/);
      moved.useRemoteSdp(answer);
      moved.start({ kind: 'tone', freq: 2500, amplitude: 6000 });
      await waitForSound(moved);
      const heard = await collect(moved, 30);
      assert.ok(medianToneShare(heard, 600, 16000) > 0.8, 'the new G.722 endpoint hears a');
      const heardByA = await collect(a.peer, 30);
      assert.ok(medianToneShare(heardByA, 2500, 8000) > 0.5, 'a hears the new endpoint');
    } finally {
      await moved.close();
    }
  }));

  it('an outgoing SRTP leg (our offer) to an incoming SRTP leg (our answer) carries audio both ways', async (t) => {
    // Closed whatever happens: a failed assertion must not leave peers sending (the file would wait for its timeout).
    const r1 = await engine.createRoom('srtp-1');
    t.after(() => r1.close());
    const r2 = await engine.createRoom('srtp-2');
    t.after(() => r2.close());
    const x = await joinPeer(r1, { codec: 'PCMU' });
    t.after(() => x.peer.close());
    const y = await joinPeer(r2, { codec: 'PCMU' });
    t.after(() => y.peer.close());
    x.peer.setTone(700);
    y.peer.setTone(1300);
    const { leg: out, offer } = await r1.createOutgoingLeg({ id: 'trunk', srtp: true });
    assert.match(offer, /m=audio \d+ RTP\/SAVP 0 8 9 111 101 110/);
    assert.match(offer, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\S+/);
    const { answer } = await r2.createLeg(offer, { id: 'trunk' });
    assert.match(answer, /RTP\/SAVP 0 101/);
    await out.applyAnswer(answer);
    await Promise.all([waitForSound(x.peer), waitForSound(y.peer)]);
    const [hx, hy] = await Promise.all([collect(x.peer, 40), collect(y.peer, 40)]);
    assert.ok(medianToneShare(hx, 1300, 8000) > 0.8, 'x hears y through the SRTP trunk');
    assert.ok(medianToneShare(hy, 700, 8000) > 0.8, 'y hears x through the SRTP trunk');
  });

  it('a peer whose SRTP key has an MKI (`|2^31|1:1`, as Lync and SBCs offer it) is heard and hears it: our key has a 1-byte MKI too (symmetric MKI), in every packet', () => inRoom(engine, 'mki', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', srtp: 'AES_CM_128_HMAC_SHA1_80', srtpMki: 1 });
    const b = await join(room, { codec: 'PCMU' });
    // The peer decrypts with our MKI expected (rtp-peer reads it from the answer): without it in our packets, it hears nothing.
    assert.match(a.answer, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/=]+\|2\^31\|1:1\r\n/, 'our own key, with an MKI of the same length');
    a.peer.setTone(700);
    b.peer.setTone(1300);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    const [ha, hb] = await Promise.all([collect(a.peer, 40), collect(b.peer, 40)]);
    assert.ok(medianToneShare(hb, 700, 8000) > 0.8, 'b hears the MKI peer');
    assert.ok(medianToneShare(ha, 1300, 8000) > 0.8, 'the MKI peer hears b');
    await engine.nextStats();
    assert.equal(a.leg.endpoint?.stats.srtpFailures, 0, 'every packet with the MKI authenticated');
  }));

  it('latching: sends to the first source seen, and ignores any other source afterwards', async (t) => {
    const own = await startEngine({ latching: true, rtpPortRange: { min: 43500, max: 43999 } });
    t.after(() => own.close());
    const room = await own.createRoom('latch');
    const listener = await joinPeer(room, { codec: 'PCMU' });
    t.after(() => listener.peer.close());
    // The talker's SDP names a port nobody listens on; with latching the answer goes to its real source.
    const talker = await new RtpPeer({ codec: 'PCMU' }).bind();
    t.after(() => talker.close());
    const { answer } = await room.createLeg(talker.sdp().replace(`m=audio ${talker.port}`, 'm=audio 9'));
    talker.useRemoteSdp(answer);
    talker.start({ kind: 'tone', freq: 800, amplitude: 6000 });
    await talker.waitForPackets(20);
    await waitForSound(listener.peer);
    const intruder = await new RtpPeer({ codec: 'PCMU' }).bind();
    t.after(() => intruder.close());
    intruder.useRemoteSdp(answer);
    intruder.start({ kind: 'tone', freq: 2000, amplitude: 6000 });
    await intruder.waitForPackets(0);
    const heard = await collect(listener.peer, 40);
    assert.ok(medianToneShare(heard, 800, 8000) > 0.8, 'the latched talker is heard');
    assert.ok(medianToneShare(heard, 2000, 8000) < 0.02, 'the intruder is not');
    assert.equal(intruder.received.length, 0, 'nothing is sent to the intruder');
  });
});
