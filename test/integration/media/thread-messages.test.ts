// The messages between the main thread and a media thread (real thread, real
// UDP): what main sends in one turn reaches the thread as one post and is
// applied in order (heard in the audio); a close main asks for is not echoed
// back (main closed its proxies already), and the room proxy still closes once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, startEngine, talkingPair } from '../../helpers/media-harness.ts';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('messages between the main thread and a media thread', () => {
  let engine: MediaEngine;
  const sent = (type: string): number => engine.threadMessages.sent.get(type) ?? 0;
  const received = (type: string): number => engine.threadMessages.received.get(type) ?? 0;
  before(async () => {
    engine = await startEngine({ threads: 1 });
  });
  after(() => engine.close());

  it('commands of one turn leave as one post and apply in order', async (t) => {
    const room = await engine.createRoom('batch');
    const [a, b] = await talkingPair(t, room);
    await nextTurn();
    const posts = sent('(postMessage)');
    const roles = sent('leg.role');
    // Muted, then unmuted, in one turn: the thread must end with A unmuted.
    a.leg.mute(true);
    a.leg.mute(false);
    await nextTurn();
    assert.equal(sent('leg.role') - roles, 2);
    assert.equal(sent('(postMessage)') - posts, 1, 'both in one post');
    const heard = await collect(b.peer, 50);
    assert.ok(medianToneShare(heard, 440, 8000) > 0.8, `B hears A's 440 Hz after mute+unmute (share ${medianToneShare(heard, 440, 8000).toFixed(3)})`);
  });

  it("a close main asks for is not echoed back; the proxies close once", async (t) => {
    const room = await engine.createRoom('echo');
    const [a] = await talkingPair(t, room);
    const closes: string[] = [];
    room.on('close', (reason) => closes.push(reason));
    const legCloses: string[] = [];
    a.leg.on('close', (reason) => legCloses.push(reason));
    const echoes = (): number => received('room.closed') + received('leg.closed') + received('source.done');
    const before = echoes();
    const [legClose, roomClose] = [sent('leg.close'), sent('room.close')];
    a.leg.close();
    room.close();
    // The thread handles commands in order: its answer to a later one comes after any echo.
    await engine.nextStats();
    assert.equal(sent('leg.close') - legClose, 1);
    assert.equal(sent('room.close') - roomClose, 1);
    assert.equal(echoes(), before, 'no room.closed, leg.closed or source.done came back');
    assert.deepEqual(legCloses, ['closed']);
    assert.deepEqual(closes, ['closed']);
    assert.equal(engine.room('echo'), undefined);
  });
});
