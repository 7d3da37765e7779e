// When an open recording's sidecar is rewritten (sidecar-schedule.ts): a change to what it
// records within a second, its lengths alone every 10 s. A fake clock; the recorder's own
// use is in recorder-lifecycle.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANGE_EVERY_MS, PROGRESS_EVERY_MS, SidecarSchedule, sidecarShape } from '../../../src/recording/sidecar-schedule.ts';

function meta(): { state: string; updatedAt: string; durationMs: number; mix: { file: string; durationMs: number }; legs: { id: string; stems: { durationMs: number }[] }[]; notices: string[] } {
  return { state: 'recording', updatedAt: 't0', durationMs: 0, mix: { file: 'm.wav', durationMs: 0 }, legs: [{ id: 'a', stems: [{ durationMs: 0 }] }], notices: [] };
}

describe('SidecarSchedule', () => {
  it('the shape leaves out every durationMs and updatedAt, and nothing else', () => {
    const a = meta();
    const b = meta();
    b.durationMs = b.mix.durationMs = b.legs[0]!.stems[0]!.durationMs = 5000;
    b.updatedAt = 't1';
    assert.equal(sidecarShape(a), sidecarShape(b));
    b.mix.file = 'n.wav';
    assert.notEqual(sidecarShape(a), sidecarShape(b));
  });

  it('a change is due a second after the last write, lengths alone after 10 s', () => {
    let now = 0;
    const s = new SidecarSchedule(() => now);
    const m = meta();
    assert.equal(s.due(m), true, 'never written: due');
    s.written(m);
    m.notices.push('notice');
    now = CHANGE_EVERY_MS - 100;
    assert.equal(s.due(m), false, 'a change waits for the second to pass');
    now = CHANGE_EVERY_MS;
    assert.equal(s.due(m), true, 'a change is due once the second passed');
    s.written(m);
    for (now = 2 * CHANGE_EVERY_MS; now < CHANGE_EVERY_MS + PROGRESS_EVERY_MS - 100; now += 250) {
      m.durationMs = m.mix.durationMs = m.legs[0]!.stems[0]!.durationMs = now;
      m.updatedAt = `t${now}`;
      assert.equal(s.due(m), false, `lengths alone at ${now} ms: not due`);
    }
    now = CHANGE_EVERY_MS + PROGRESS_EVERY_MS;
    assert.equal(s.due(m), true, 'the lengths are due 10 s after the last write');
    s.written(m);
    now += CHANGE_EVERY_MS;
    m.legs.push({ id: 'b', stems: [] });
    assert.equal(s.due(m), true, 'a leg that joined');
  });

  it('compares the shape once a second, not at every flush; a change is still found within the second', () => {
    let now = 0;
    const s = new SidecarSchedule(() => now);
    const m = meta();
    let serialized = 0;
    const counted = { toJSON: () => (serialized++, m) };
    s.written(counted);
    serialized = 0;
    // Flushes every 250 ms for 5 s, nothing changes but the lengths.
    for (now = 250; now <= 5000; now += 250) {
      m.durationMs = now;
      assert.equal(s.due(counted), false);
    }
    assert.ok(serialized <= 5, `compared ${serialized} times in 5 s`);
    // A change just after a comparison: due at the next one, within the second.
    now += 10;
    m.notices.push('late');
    let found = -1;
    for (const start = now; now <= start + 1000; now += 250) if (s.due(counted)) { found = now - start; break; }
    assert.ok(found >= 0 && found <= 1000, `found ${found} ms after the change`);
  });
});
