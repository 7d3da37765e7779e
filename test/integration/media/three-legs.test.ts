import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MediaRoom } from '../../../src/media-plane/media-room.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, joinPeer, startEngine, waitForSound, type JoinedPeer } from '../../helpers/media-harness.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

const F = { a: 400, b: 1000, c: 2200, h: 3100, whisper: 1700 };
const RATE = 8000;

/** Shares of every test frequency in what a peer received over the next second. */
async function heard(p: JoinedPeer): Promise<Record<keyof typeof F, number>> {
  const pcm = await collect(p.peer, 50);
  const out = {} as Record<keyof typeof F, number>;
  for (const [k, f] of Object.entries(F)) out[k as keyof typeof F] = medianToneShare(pcm, f, RATE);
  return out;
}

const fmt = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(' ');

describe('three legs, a hidden listener and a whisper (real worker, real UDP)', () => {
  let engine: MediaEngine;
  let room: MediaRoom;
  let a: JoinedPeer, b: JoinedPeer, c: JoinedPeer, h: JoinedPeer;
  // Every peer as it joins, so that `after` closes them even when `before` failed half-way.
  const joined: JoinedPeer[] = [];
  const join = async (opts: Parameters<typeof joinPeer>[1]): Promise<JoinedPeer> => {
    const j = await joinPeer(room, opts);
    joined.push(j);
    return j;
  };
  before(async () => {
    engine = await startEngine();
    room = await engine.createRoom('three');
    [a, b, c, h] = [await join({ codec: 'PCMU', id: 'a' }), await join({ codec: 'PCMU', id: 'b' }), await join({ codec: 'PCMA', id: 'c' }), await join({ codec: 'PCMU', id: 'h' })];
    h.leg.hide();
    a.peer.setTone(F.a, 5000);
    b.peer.setTone(F.b, 5000);
    c.peer.setTone(F.c, 5000);
    h.peer.setTone(F.h, 5000);
    await Promise.all([a, b, c, h].map((p) => waitForSound(p.peer)));
  });
  after(async () => {
    try {
      await Promise.all(joined.map((p) => p.peer.close()));
    } finally {
      engine?.close();
    }
  });

  it('each leg hears the other two and not itself; nobody hears the hidden leg', async () => {
    const [ra, rb, rc] = await Promise.all([heard(a), heard(b), heard(c)]);
    for (const [name, r, others] of [['a', ra, ['b', 'c']], ['b', rb, ['a', 'c']], ['c', rc, ['a', 'b']]] as const) {
      for (const o of others) assert.ok(r[o] > 0.25, `${name} hears ${o}: ${fmt(r)}`);
      assert.ok(r[name] < 0.02, `${name} does not hear itself: ${fmt(r)}`);
      assert.ok(r.h < 0.02, `${name} does not hear the hidden leg: ${fmt(r)}`);
    }
  });

  it('the hidden leg hears everyone', async () => {
    const r = await heard(h);
    for (const o of ['a', 'b', 'c'] as const) assert.ok(r[o] > 0.2, `hidden hears ${o}: ${fmt(r)}`);
    assert.ok(r.h < 0.02, `hidden does not hear itself: ${fmt(r)}`);
  });

  it('a whisper FrameSource reaches only its target', async () => {
    const whisper = new ToneSource(F.whisper, room.mixerSampleRate);
    b.leg.play(whisper);
    const [ra, rb, rc] = await Promise.all([heard(a), heard(b), heard(c)]);
    whisper.stop();
    assert.ok(rb.whisper > 0.15, `b hears the whisper: ${fmt(rb)}`);
    assert.ok(ra.whisper < 0.02, `a does not: ${fmt(ra)}`);
    assert.ok(rc.whisper < 0.02, `c does not: ${fmt(rc)}`);
  });

  it('a muted leg is heard by no one; a coach is heard only by its target', async () => {
    c.leg.mute();
    a.leg.speakTo(['b']);
    const [ra, rb, rc] = await Promise.all([heard(a), heard(b), heard(c)]);
    c.leg.mute(false);
    a.leg.speakTo(null);
    assert.ok(ra.c < 0.02 && rb.c < 0.02, `muted c is not heard: a: ${fmt(ra)} b: ${fmt(rb)}`);
    assert.ok(rb.a > 0.3, `b hears its coach a: ${fmt(rb)}`);
    assert.ok(rc.a < 0.02, `c does not hear coach a: ${fmt(rc)}`);
    assert.ok(ra.b > 0.3, `the coach hears b: ${fmt(ra)}`);
  });

  it('a room-wide FrameSource reaches every leg', async () => {
    const prompt = new ToneSource(F.whisper, room.mixerSampleRate);
    room.play(prompt);
    const rs = await Promise.all([heard(a), heard(b), heard(c), heard(h)]);
    prompt.stop();
    rs.forEach((r, i) => assert.ok(r.whisper > 0.1, `leg ${i} hears the room prompt: ${fmt(r)}`));
  });
});
