import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { medianToneShare } from '../../helpers/audio.ts';
import { collect, envelope, joinPeer, startEngine, waitForSound } from '../../helpers/media-harness.ts';

describe('two legs in a room (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('each hears the other\'s tone and not its own', async () => {
    const room = await engine.createRoom('two');
    const a = await joinPeer(room, { codec: 'PCMU' });
    const b = await joinPeer(room, { codec: 'PCMU' });
    a.peer.setTone(440);
    b.peer.setTone(1000);
    // Wait for steady sound at both ends (SSRC discovery, jitter buffers), then analyse 1 s.
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    const [heardByA, heardByB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
    assert.ok(medianToneShare(heardByA, 1000, 8000) > 0.8, `A hears B's 1000 Hz (share ${medianToneShare(heardByA, 1000, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByA, 440, 8000) < 0.02, `A does not hear its own 440 Hz (share ${medianToneShare(heardByA, 440, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByB, 440, 8000) > 0.8, `B hears A's 440 Hz (share ${medianToneShare(heardByB, 440, 8000).toFixed(3)}; ${envelope(heardByB, 8000)})`);
    assert.ok(medianToneShare(heardByB, 1000, 8000) < 0.02, 'B does not hear its own 1000 Hz');
    // One stable SSRC per listener.
    assert.equal(new Set(a.peer.received.map((p) => p.ssrc)).size, 1);
    await Promise.all([a.peer.close(), b.peer.close()]);
    room.close();
  });
});
