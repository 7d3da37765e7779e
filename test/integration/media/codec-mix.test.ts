import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, inRoom, joinPeer, startEngine, waitForSound } from '../../helpers/media-harness.ts';

describe('codec mix (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('a PCMU leg, an Opus leg (dynamic PT 96) and a G.722 leg hear each other', () => inRoom(engine, 'codecs', async (room, join) => {
    const u = await join(room, { codec: 'PCMU', rtcpMux: false }); // separate RTCP port
    const o = await join(room, { codec: 'opus', pt: 96, dtmfPt: 97 });
    const g = await join(room, { codec: 'G722' });
    assert.match(o.answer, /a=rtpmap:96 opus\/48000\/2/, 'the answer keeps the offered Opus payload type');
    // Parley decodes Opus in-band FEC (the parley-opus addon): it asks the sender for it (RFC 7587 §6.1).
    assert.match(o.answer, /a=fmtp:96 [^\r\n]*useinbandfec=1/, 'the answer asks for in-band FEC');
    assert.match(g.answer, /m=audio \d+ RTP\/AVP 9 101/, 'G.722 answered with PT 9 plus telephone-event');
    assert.match(u.answer, /a=rtcp:\d+/, 'no rtcp-mux offered: our RTCP port is announced');
    assert.doesNotMatch(u.answer, /a=rtcp-mux/);
    u.peer.setTone(500, 6000);
    o.peer.setTone(1200, 6000);
    g.peer.setTone(5000, 6000); // above 4 kHz: only a wideband path carries it
    await Promise.all([waitForSound(u.peer), waitForSound(o.peer), waitForSound(g.peer)]);
    const [hu, ho, hg] = await Promise.all([collect(u.peer, 50), collect(o.peer, 50), collect(g.peer, 50)]);
    // Every packet the Opus peer got carries its own payload type.
    assert.ok(o.peer.received.slice(-50).every((p) => p.payloadType === 96), 'opus leg receives PT 96');
    const s = (pcm: Int16Array, f: number, rate: number): number => medianToneShare(pcm, f, rate);
    assert.ok(s(hu, 1200, 8000) > 0.3, `PCMU hears Opus (${s(hu, 1200, 8000).toFixed(3)})`);
    assert.ok(s(hu, 500, 8000) < 0.02, 'PCMU does not hear itself');
    assert.ok(s(ho, 500, 16000) > 0.25, `Opus hears PCMU (${s(ho, 500, 16000).toFixed(3)})`);
    assert.ok(s(ho, 5000, 16000) > 0.2, `Opus hears G.722's 5 kHz (${s(ho, 5000, 16000).toFixed(3)})`);
    assert.ok(s(ho, 1200, 16000) < 0.02, 'Opus does not hear itself');
    assert.ok(s(hg, 500, 16000) > 0.25 && s(hg, 1200, 16000) > 0.25, 'G.722 hears PCMU and Opus');
    assert.ok(s(hg, 5000, 16000) < 0.02, 'G.722 does not hear itself');
  }));

  it('a room mixing at 48 kHz: PCMU and Opus legs hear each other', async (t) => {
    const own = await startEngine({ mixer: { sampleRate: 48000, narrowband: false, jitterMinMs: 20, jitterMaxMs: 100 }, rtpPortRange: { min: 44000, max: 44499 } });
    // Closed whatever happens: a failed assertion must not leave peers sending (the file would wait for its timeout).
    t.after(() => own.close());
    const room = await own.createRoom('wideband');
    assert.equal(room.mixerSampleRate, 48000);
    const u = await joinPeer(room, { codec: 'PCMU' });
    t.after(() => u.peer.close());
    const o = await joinPeer(room, { codec: 'opus' });
    t.after(() => o.peer.close());
    u.peer.setTone(700, 6000);
    o.peer.setTone(1900, 6000);
    await Promise.all([waitForSound(u.peer), waitForSound(o.peer)]);
    const [hu, ho] = await Promise.all([collect(u.peer, 40), collect(o.peer, 40)]);
    assert.ok(medianToneShare(hu, 1900, 8000) > 0.3, `PCMU hears Opus at 48 kHz mixing (${medianToneShare(hu, 1900, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(ho, 700, 16000) > 0.3, `Opus hears PCMU at 48 kHz mixing (${medianToneShare(ho, 700, 16000).toFixed(3)})`);
  });
});
