// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Faults during calls: a mediasoup worker killed mid-call does not touch SIP
// calls (their RTP runs on Parley's own endpoints; mediasoup is only the rooms'
// hub), and the pool replaces the worker. A party whose
// phone vanishes (its RTP stops, no BYE ever comes) ends the call after
// media.rtpTimeoutSec, with a Reason, and its recording is closed: the log names the
// party whose RTP stopped (no wall-clock limit: how late the check runs on a loaded
// machine is not Parley's behaviour; that the timeout, and nothing else, ended the call is).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { captureLog } from '../helpers/log-capture.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertByeReason, gatewayYaml, nextCallEnd, sippOk, startCallee, startCaller } from './helpers.ts';

const yaml = gatewayYaml('notice', ['answer: { early: true }', 'record: { action: start }', 'play: { tone: beep }', 'bridge: { ringTimeout: 10 }']);

// The two suites share nothing (each its own Parley, SIPp parties and recordings folder): they run
// side by side, their own tests in order (a suite's tests would inherit the outer concurrency).
describe('faults', { concurrency: true }, () => {
  describe('faults: a mediasoup worker killed mid-call', { concurrency: false }, () => {
    const running = parleyPerSuite(yaml);

    it('SIP media does not cross mediasoup: the call keeps its audio both ways, ends normally, and the worker is replaced', async () => {
      const parley = running();
      const callee = await startCallee('callee.xml', 1000);
      const ended = nextCallEnd(parley);
      const caller = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: 6000 });
      // Connected: the callee has been hearing the caller for a while.
      await callee.rtp.waitForPackets(100, 15_000);
      const [pid] = parley.app.media!.workerPids;
      process.kill(pid!, 'SIGKILL');
      const calleeAt = callee.rtp.received.length;
      const callerAt = caller.rtp.received.length;
      // Two more seconds of audio each way after the kill.
      await Promise.all([callee.rtp.waitForPackets(calleeAt + 100, 10_000), caller.rtp.waitForPackets(callerAt + 100, 10_000)]);

      sippOk(await caller.done, 'caller');
      sippOk(await callee.done, 'callee');
      await ended;
      assert.equal(parley.app.calls!.active.size, 0, 'no call left behind');

      // The recording was closed normally: its sidecar is final and sox reads the mix.
      const dir = parley.recordingDir;
      const meta = await waitForSidecar(dir);
      const mix = join(dir, meta.mix.file as string);
      const seconds = Number(execFileSync('sox', ['--i', '-D', mix], { encoding: 'utf8' }).trim());
      assert.ok(seconds > 4, `the mix lasts ${seconds} s`);
      await caller.rtp.close();
      await callee.rtp.close();
      await waitFor('the replacement worker', () => (parley.app.media!.workerPids[0] ?? pid) !== pid);
    });
  });

  describe('faults: a party that vanishes without a BYE (media.rtpTimeoutSec: 2)', { concurrency: false }, () => {
    const capture = captureLog();
    const running = parleyPerSuite(yaml, { rtpTimeoutSec: 2, log: capture.log });

    for (const gone of ['caller', 'callee'] as const) {
      it(`the ${gone}'s RTP stops: both parties get a BYE with a Reason and the recording is closed`, async () => {
        const parley = running();
        const from = capture.lines().length;
        const callee = await startCallee('callee.xml', 1000);
        const ended = nextCallEnd(parley);
        const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
        // Connected: each side has been hearing the other for a while.
        await callee.rtp.waitForPackets(75, 15_000);
        await caller.rtp.waitForPackets(75, 15_000);
        const stoppedAt = Date.now();
        (gone === 'caller' ? caller : callee).rtp.stopSending();
        const callerRun = await caller.done;
        const calleeRun = await callee.done;
        const tookMs = Date.now() - stoppedAt;
        sippOk(callerRun, 'caller');
        sippOk(calleeRun, 'callee');
        assertByeReason([['caller', callerRun], ['callee', calleeRun]], /^Reason: Q\.850;cause=102;text="media timeout"/m);
        assert.ok(tookMs >= 1800, `ended ${tookMs} ms after the RTP stopped: before the 2 s timeout`);
        await ended;
        // The mechanism: the silent party's leg (not the other, which kept sending) timed out after
        // at least the 2 s, and that ended the call (the seconds are how long it was silent when checked).
        const why = capture.lines().slice(from).filter((l) => l.msg === 'call ended').map((l) => String(l.reason));
        assert.equal(why.length, 1, JSON.stringify(why));
        const cause = new RegExp(`^media timeout: no RTP from the ${gone} for (\\d+) s$`).exec(why[0]!);
        assert.ok(cause && Number(cause[1]) >= 2, `the call ended for the silence of the party that vanished: ${why[0]}`);
        // Parley ended the bridge, not a party (it was logged as the caller's doing).
        const endedBy = capture.lines().slice(from).filter((l) => l.msg === 'bridge ended').map((l) => l.endedBy);
        assert.deepEqual(endedBy, ['parley']);
        const meta = await waitForSidecar(parley.recordingDir, (m) => !seen.has(m.mix.file));
        seen.add(meta.mix.file);
        assert.ok(meta.mix.sha256, 'the recording was closed and hashed');
        await caller.rtp.close();
        await callee.rtp.close();
      });
    }
    const seen = new Set<string>();
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function waitForSidecar(dir: string, wanted: (m: any) => boolean = () => true): Promise<any> {
  return waitFor('a final recording sidecar', () => finalSidecars(dir).find(wanted));
}
