// The console's live state (web/console/src/live-state.ts): a snapshot plus the
// event stream, with events replayed over the snapshot changing nothing, a call's
// legs and its conference kept apart, the rule and the recording state followed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEvent, fromSnapshot, recordingOf, refreshCall, type ApiEvent, type LiveState } from '../../../web/console/src/live-state.ts';

let seq = 0;
const ev = (type: string, data: Record<string, unknown>): ApiEvent => ({ type, seq: ++seq, at: new Date(1_700_000_000_000 + seq * 1000).toISOString(), data });
const run = (s: LiveState, events: ApiEvent[]): LiveState => events.reduce(applyEvent, s);

const callEvents = (): ApiEvent[] => [
  ev('rule.matched', { rule: 'gateway', method: 'INVITE', callId: 'c1', outcome: 'app' }),
  ev('call.created', { callId: 'c1', flow: 'record-and-bridge', from: 'sip:alice@x', to: 'sip:bob@y', requestUri: 'sip:bob@y' }),
  ev('leg.joined', { callId: 'c1', room: 'call-1', leg: 'caller', uri: 'sip:alice@x' }),
  ev('recording.started', { id: 'rec-1', room: 'call-1' }),
  ev('leg.joined', { callId: 'c1', room: 'call-1', leg: 'callee', uri: 'sip:bob@y' }),
  ev('talking', { callId: 'c1', leg: 'caller', talking: true }),
  ev('recording.state', { id: 'rec-1', room: 'call-1', paused: true, masked: false, closed: false }),
];

describe('console live state', () => {
  it('builds a call from the stream: flow, rule, legs, who talks, recording state', () => {
    const s = run(fromSnapshot([], [], [], 0), callEvents());
    const c = s.calls.c1!;
    assert.equal(c.flow, 'record-and-bridge');
    assert.equal(c.rule, 'gateway');
    assert.equal(c.room, 'call-1');
    assert.deepEqual(c.legs.map((l) => [l.id, l.uri, l.talking]), [['caller', 'sip:alice@x', true], ['callee', 'sip:bob@y', false]]);
    assert.deepEqual(recordingOf(s, c), { id: 'rec-1', paused: true, masked: false, closed: false });
    assert.equal(s.lastSeq, seq);
  });

  it('events replayed over the snapshot they are part of change nothing', () => {
    const events = callEvents();
    const live = run(fromSnapshot([], [], [], 0), events);
    const snapshot = fromSnapshot(
      [{ id: 'c1', flow: 'record-and-bridge', startedAt: events[1]!.at, from: { uri: 'sip:alice@x' }, originalTo: { uri: 'sip:bob@y' }, requestUri: 'sip:bob@y', room: 'call-1', legs: [{ id: 'caller', talking: true }, { id: 'callee' }], recording: { id: 'rec-1', paused: true, masked: false, closed: false } }],
      [],
      events,
      0,
    );
    const replayed = run(snapshot, events);
    assert.deepEqual(replayed.calls, live.calls);
    assert.deepEqual(replayed.recordings, live.recordings);
    assert.deepEqual(run(replayed, events).calls, live.calls, 'twice: still the same');
  });

  it('keeps a conference roster apart from the calls whose legs are in it, and forgets an empty room', () => {
    let s = run(fromSnapshot([], [], [], 0), callEvents());
    s = run(s, [
      ev('leg.joined', { room: 'sales', leg: 'c1', callId: 'c1', uri: 'sip:alice@x', identity: 'normal' }),
      ev('talking', { room: 'sales', leg: 'c1', callId: 'c1', talking: true }),
    ]);
    assert.deepEqual(s.rooms.sales!.legs.map((l) => [l.id, l.talking]), [['c1', true]]);
    assert.equal(s.calls.c1!.legs.length, 2, 'the roster join is not a leg of the call');
    s = applyEvent(s, ev('leg.left', { room: 'sales', leg: 'c1', callId: 'c1', reason: 'kicked' }));
    assert.equal(s.rooms.sales, undefined);
    assert.equal(s.calls.c1!.legs.length, 2);
  });

  it('a leg leaving and the call ending: gone from the calls, listed as ended with its reason', () => {
    let s = run(fromSnapshot([], [], [], 0), callEvents());
    s = applyEvent(s, ev('leg.left', { callId: 'c1', room: 'call-1', leg: 'callee' }));
    assert.deepEqual(s.calls.c1!.legs.map((l) => l.id), ['caller']);
    s = applyEvent(s, ev('call.ended', { callId: 'c1', flow: 'record-and-bridge', reason: 'api hangup', durationMs: 5000 }));
    assert.equal(s.calls.c1, undefined);
    assert.deepEqual([s.ended[0]!.id, s.ended[0]!.reason], ['c1', 'api hangup']);
  });

  it('a refreshed call (GET /calls/:id after mute) updates legs and recording, keeps the URIs', () => {
    const s = run(fromSnapshot([], [], [], 0), callEvents());
    const r = refreshCall(s, { id: 'c1', flow: 'record-and-bridge', startedAt: s.calls.c1!.startedAt, from: { uri: 'sip:alice@x' }, originalTo: { uri: 'sip:bob@y' }, room: 'call-1', legs: [{ id: 'caller', muted: true }, { id: 'callee' }], recording: { id: 'rec-1', paused: false, masked: true, closed: false } });
    assert.deepEqual(r.calls.c1!.legs.map((l) => [l.id, l.muted, l.uri]), [['caller', true, 'sip:alice@x'], ['callee', false, 'sip:bob@y']]);
    assert.equal(recordingOf(r, r.calls.c1!)!.masked, true);
    assert.equal(refreshCall(s, { id: 'gone', legs: [] }), s);
  });
});
