// A short soak in the test suite: 140 recorded calls through a flow, in two
// rounds. After the first round warms everything up, the second must not grow
// the heap (after GC) beyond a small bound, and nothing may be left behind:
// no call, no media room, no open recording. (An hour-long soak is the same
// test with SOAK_CALLS=18000 — two rounds at 10 calls/s — run by hand: see the README.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp } from '../helpers/sipp.ts';
import { SCENARIOS } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const ROUND = Number(process.env.SOAK_CALLS ?? 70);
const RATE = 10;
// SIPp's -timeout is global (the whole round): it grows with the round, for the hour-long
// soak run by hand (without scripts/run-tests.sh, whose --test-timeout is 10 minutes a file).
const ROUND_S = Math.ceil(ROUND / RATE) + 60;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}

describe(`soak: ${2 * ROUND} recorded calls`, () => {
  let parley: RunningParley;
  let rtp: RtpPeer;

  before(async () => {
    parley = await startParley(`
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: short }] }]
flows:
  short: [answer, { record: { action: start } }, { play: { tone: beep } }, hangup]
`);
    rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    rtp.start({ kind: 'tone', freq: 440, amplitude: 8000 });
  });

  after(async () => {
    await rtp?.close();
    await parley?.stop();
  });

  async function round(): Promise<void> {
    const run = await startSipp({
      scenario: `${SCENARIOS}/caller-wait-bye.xml`,
      transport: 'udp',
      remote: `127.0.0.1:${parley.sipPort}`,
      calls: ROUND,
      rate: RATE,
      timeoutS: Math.max(120, ROUND_S),
      extra: ['-key', 'to_uri', 'sip:soak@127.0.0.1:9', '-key', 'rtpport', String(rtp.port), '-key', 'from_user', 'soak', '-l', '20'],
    });
    const r = await run.done;
    assert.equal(r.code, 0, r.errors.slice(-1500) || r.stdout.slice(-1500));
    const until = Date.now() + 10_000;
    while (parley.app.calls!.active.size > 0 || parley.app.recordings!.open.size > 0) {
      if (Date.now() > until) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    // The RTP peer keeps every packet it receives (one peer for all calls): dropped
    // after each round, or the test's own buffer would count as Parley's heap growth.
    rtp.received.length = 0;
  }

  it('the second round grows the heap by less than 8 MB and leaves nothing behind', async () => {
    await round();
    const warm = heapMb();
    await round();
    const end = heapMb();
    console.log(`soak heap: warm ${warm.toFixed(1)} MB, after ${end.toFixed(1)} MB`);
    await assertNothingLeft(parley);
    assert.ok(end - warm < 8, `heap after ${ROUND} more calls: ${warm.toFixed(1)} → ${end.toFixed(1)} MB`);
  });
});
