// The hub's backlog: bounded, oldest dropped first, `since` returns what is kept after a seq.
// Recording failures: an event for each of the first ones, a metric counting all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Parley } from '../../../src/app.ts';
import { EventHub, type ApiEvent } from '../../../src/api/event-hub.ts';
import { Metrics } from '../../../src/api/metrics.ts';
import type { Recorder } from '../../../src/recording/recorder.ts';
import { TypedEmitter } from '../../../src/util/typed-emitter.ts';
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

describe('recording failures', () => {
  it('are sent as recording.failed (the first 20 of a recording) and all counted in parley_recording_errors_total', async () => {
    // Fakes of the recording service and a recorder: what they emit is all the hub and metrics see.
    const recordings = new TypedEmitter<{ recorder: [Recorder] }>();
    const parley = { recordings } as unknown as Parley;
    const hub = new EventHub(parley, silentLogger(), 100);
    const metrics = new Metrics(parley);
    const seen: ApiEvent[] = [];
    hub.on('event', (e) => seen.push(e));
    const recorder = Object.assign(new TypedEmitter<{ error: [Error]; finalized: [unknown]; state: [{ paused: boolean; masked: boolean }]; closed: [unknown] }>(), { id: 'rec-1', roomId: 'call-1' });
    recordings.safeEmit('recorder', recorder as unknown as Recorder);
    assert.deepEqual([seen[0]!.type, seen[0]!.data], ['recording.started', { id: 'rec-1', room: 'call-1' }]);
    seen.length = 0;
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    for (let i = 0; i < 25; i++) recorder.safeEmit('error', enospc);
    assert.equal(seen.length, 20);
    assert.deepEqual(seen[0]!.type, 'recording.failed');
    assert.deepEqual(seen[0]!.data, { id: 'rec-1', code: 'ENOSPC', message: enospc.message, failures: 1 });
    // Pauses and masks, and the close, for the console's live view.
    seen.length = 0;
    recorder.safeEmit('state', { paused: true, masked: false });
    recorder.safeEmit('closed', {});
    assert.deepEqual(seen.map((e) => [e.type, e.data.paused, e.data.closed]), [['recording.state', true, false], ['recording.state', false, true]]);
    assert.match(await metrics.registry.getSingleMetricAsString('parley_recording_errors_total'), /^parley_recording_errors_total 25$/m);
    hub.close();
    metrics.close();
  });
});
