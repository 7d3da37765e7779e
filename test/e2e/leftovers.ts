// After a call is over nothing of it may stay: no call or room in the API, no media
// leg in the metrics, no open recording, no media room in the engine.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { apiBase, call } from '../helpers/api-client.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { waitFor } from '../helpers/wait.ts';

/** The legs gauge from /metrics (summed over its labels). */
export async function legsMetric(parley: RunningParley): Promise<number> {
  const text = (await call(apiBase(parley), 'GET', '/metrics')).text;
  let n = 0;
  let seen = false;
  for (const m of text.matchAll(/^parley_legs(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/gm)) {
    n += Number(m[1]);
    seen = true;
  }
  assert.ok(seen, 'parley_legs is in /metrics');
  return n;
}

/**
 * Waits (a call's teardown is asynchronous: a recorded call's room closes after its recording took
 * what the legs still buffered) until nothing is left, then asserts each part by name. Without the
 * API, the parts it reports (calls, rooms, the legs gauge) are not asked for.
 */
export async function assertNothingLeft(parley: RunningParley, timeoutMs = 10_000): Promise<void> {
  const base = parley.app.api?.url ? apiBase(parley) : null;
  const state = async () => ({
    ...(base ? { calls: (await call(base, 'GET', '/calls')).body as unknown[], rooms: (await call(base, 'GET', '/rooms')).body as unknown[], legs: await legsMetric(parley) } : {}),
    recordings: parley.app.recordings!.open.size,
    mediaRooms: parley.app.media!.roomCount,
    managed: parley.app.calls!.active.size,
    admitted: parley.app.calls!.admitted,
  });
  const none = { ...(base ? { calls: [], rooms: [], legs: 0 } : {}), recordings: 0, mediaRooms: 0, managed: 0, admitted: 0 };
  const last = await waitFor('nothing left behind', async () => {
    const s = await state();
    return isDeepStrictEqual(s, none) ? s : undefined;
  }, timeoutMs).catch(async () => state());
  assert.deepEqual(last, none);
}
