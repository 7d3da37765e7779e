// The bench anchor end to end (bench/lib/kamailio-rtpengine.ts, call-load.ts,
// call-servers.ts): real Kamailio and rtpengine on loopback, real SIPp callers and an
// echoing SIPp callee, one short step. Every call must pass through Kamailio, leave a
// pcap with RTP from both ends, and cost the anchor's processes some CPU. rtpengine is
// installed by scripts/bench-setup.sh, not by the test setup: skipped without it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { installed } from '../../helpers/installed.ts';
import { runStep } from '../../../bench/lib/call-load.ts';
import { anchorCallServer } from '../../../bench/lib/call-servers.ts';
import { startKamailioRtpengine } from '../../../bench/lib/kamailio-rtpengine.ts';


const dir = mkdtempSync(join(tmpdir(), 'parley-anchor-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('bench anchor: Kamailio + rtpengine', { timeout: 90_000 }, () => {
  it('relays SIPp calls, records each as pcap with RTP both ways, and its CPU is read', async (t) => {
    if (!installed('rtpengine') || !installed('kamailio')) return t.skip('rtpengine or kamailio is not installed (bash scripts/bench-setup.sh)');
    const root = new URL('../../../', import.meta.url).pathname;
    const tone = join(dir, 'tone.ul');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', '5', 'sine', '440', 'vol', '0.3']);
    const callerScenario = join(dir, 'caller.xml');
    writeFileSync(callerScenario, readFileSync(join(root, 'bench/scenarios/call-setup-caller.xml'), 'utf8').replace('rtp_stream="[audio]', `rtp_stream="${tone}`));
    const anchor = await startKamailioRtpengine(dir);
    try {
      const server = anchorCallServer(anchor, true);
      const step = await runStep(server, { rate: 4, calls: 4, holdMs: 1500, callerScenario, calleeScenario: join(root, 'bench/scenarios/call-setup-callee.xml'), hog: false });
      assert.equal(step.ok, 4, step.why.join('; '));
      assert.equal(step.calleeOk, 4);
      assert.equal(step.recordings.files, 4, 'one pcap per call');
      assert.equal(step.recordings.withSoundBothWays, 4, step.recordings.problems.join('; '));
      assert.equal(step.recordings.answeredWithoutSound, 0);
      assert.ok(step.good, step.why.join('; '));
      // The callee's SDP was rewritten: its RTP went through rtpengine (the pcaps below show
      // both ends). Its CPU is read from /proc in 10 ms clock ticks: over a step this short
      // it can round to 0 (it did once under CI), so the check is that the anchor's own
      // process is the one read (its CPU since it started is counted) and the step's share
      // is a part of that.
      const sinceStart = anchor.cpu().rtpengine.mainMs;
      assert.ok(sinceStart > 0, `rtpengine's CPU since its start: ${sinceStart} ms`);
      assert.ok(step.cpu.parts.rtpengine >= 0 && step.cpu.parts.rtpengine <= sinceStart, JSON.stringify(step.cpu));
      assert.equal(step.setupMs.inviteTo200.n, 4);
      assert.ok([...anchor.pcaps().values()].every((bytes) => bytes > 24 + 100 * 16), 'each pcap holds packets');
    } finally {
      await anchor.stop();
    }
  });
});
