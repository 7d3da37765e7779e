import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { LocalMediaRoom } from '../../../src/media-plane/media-room.ts';
import { MediaTimeoutWatch, type MediaWatchClient } from '../../../src/media-plane/media-timeout-watch.ts';
import { PortAllocator } from '../../../src/media-plane/port-allocator.ts';
import { silentLogger } from '../../../src/util/logger.ts';

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('media timeout watch (one timer per thread for every room)', () => {
  it('checks every client from one interval per period, and stops with the last client', async () => {
    const watch = new MediaTimeoutWatch();
    const checks = [0, 0, 0];
    const clients: MediaWatchClient[] = checks.map((_, i) => ({ checkMedia: () => void checks[i]++ }));
    for (const c of clients) watch.add(c, 20);
    assert.equal(watch.size, 3);
    assert.equal(watch.timers, 1);
    await until(() => checks.every((n) => n >= 3));
    watch.remove(clients[0], 20);
    const removedAt = checks[0];
    await until(() => checks[1] >= removedAt + 3);
    assert.equal(checks[0], removedAt, 'a removed client is not checked again');
    watch.remove(clients[1], 20);
    watch.remove(clients[2], 20);
    assert.equal(watch.timers, 0);
    assert.equal(watch.size, 0);
  });

  it('rooms of a thread share its watch: one timer for all of them, gone when they close', () => {
    const before = MediaTimeoutWatch.shared.size;
    const ports = new PortAllocator({ min: 41000, max: 41099 }, { ip4: '127.0.0.1', ip6: null });
    const config = { ...defaultConfig.media, rtpTimeoutSec: 30, latching: 'latch' as const };
    const rooms = [1, 2, 3].map((i) => new LocalMediaRoom(`r${i}`, { ports, cname: 'test', config, log: silentLogger(), roomClosed: () => undefined }));
    assert.equal(MediaTimeoutWatch.shared.size, before + 3);
    assert.equal(MediaTimeoutWatch.shared.timers, 1);
    for (const r of rooms) r.close();
    assert.equal(MediaTimeoutWatch.shared.size, before);
    assert.equal(MediaTimeoutWatch.shared.timers, 0);
  });
});
