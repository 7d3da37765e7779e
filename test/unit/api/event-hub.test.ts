// The hub's backlog: bounded, oldest dropped first, `since` returns what is kept after a seq.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Parley } from '../../../src/app.ts';
import { EventHub } from '../../../src/api/event-hub.ts';
import { silentLogger } from '../../../src/util/logger.ts';

// No calls, rooms, recorders or router to listen to: events come from publish() alone.
const noSources = {} as Parley;

describe('EventHub backlog', () => {
  it('keeps the last N events; since() and oldestSeq say what is left', () => {
    const hub = new EventHub(noSources, silentLogger(), 3);
    assert.deepEqual([hub.lastSeq, hub.oldestSeq, hub.since(0).length], [0, 1, 0]);
    for (let i = 1; i <= 5; i++) hub.publish('dtmf', { digit: String(i) });
    assert.equal(hub.lastSeq, 5);
    assert.equal(hub.oldestSeq, 3, 'events 1 and 2 were dropped');
    assert.deepEqual(hub.since(0).map((e) => e.seq), [3, 4, 5]);
    assert.deepEqual(hub.since(3).map((e) => e.data.digit), ['4', '5']);
    assert.deepEqual(hub.since(0, 2).map((e) => e.seq), [3, 4], 'limit');
    assert.deepEqual(hub.since(5), []);
    hub.close();
  });

  it('a backlog of 0 keeps nothing but still numbers and emits events', () => {
    const hub = new EventHub(noSources, silentLogger(), 0);
    const seen: number[] = [];
    hub.on('event', (e) => seen.push(e.seq));
    hub.publish('dtmf', {});
    hub.publish('dtmf', {});
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual([hub.since(0).length, hub.oldestSeq], [0, 3]);
    hub.close();
  });
});
