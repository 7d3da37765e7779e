// A full disk under a recorded call, over the wire (SIPp caller and callee, a
// 4 MB tmpfs as recording.dir, filled up mid-call):
// - recording.onWriteError 'continue' (default): the call goes on until the
//   caller hangs up (SIPp's scenario fails on a BYE from Parley); a new call that
//   would record gets 503 with a standard phrase while free space is under
//   recording.minFreeBytes; once space returns the recording resumes and is
//   finalized with files whose headers match their data; the failure shows in
//   /metrics (parley_recording_errors_total) and as a recording.failed event.
// - 'hangup': the call ends with a BYE carrying Reason: Q.850;cause=47.
// Needs root (mount); skipped otherwise.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { apiBase, apiYaml, call as api } from '../helpers/api-client.ts';
import { readWavFile, soxInfo } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { fillUp, mountSmallDisk, unfill, type SmallDisk } from '../helpers/small-disk.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk, startCallee, startCaller } from './helpers.ts';

const flows = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { record: { action: start } }, { bridge: { ringTimeout: 10 } }]
`;

function sidecars(dir: string): RecordingMetadata[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordingMetadata);
}

describe('a full disk under a recorded call (SIPp, tmpfs)', () => {
  let disk: SmallDisk | null = null;
  before(() => {
    disk = mountSmallDisk('4m');
  });
  after(() => disk?.unmount());

  it("onWriteError 'continue': the call goes on, new recording calls get 503, the recording resumes", async (t) => {
    if (!disk) return t.skip('needs root to mount a tmpfs');
    const dir = join(disk.dir, 'continue');
    let parley: RunningParley | null = null;
    try {
      parley = await startParley(flows + apiYaml(join(disk.dir, '..', 'rules.json')), { recording: { dir, extra: 'minFreeBytes: 1000000' } });
      const recs = parley.app.recordings!;
      const base = apiBase(parley);
      const callee = await startCallee('callee.xml', 1000);
      const caller = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: 7000 });
      await callee.rtp.waitForPackets(50, 15_000);
      await waitFor('the recording', () => recs.open.size === 1);
      await new Promise((r) => setTimeout(r, 1000));

      fillUp(join(disk.dir, 'filler'));
      await waitFor('a write failure counted', () => recs.writeErrors > 0, 5000);
      await waitFor('free space measured under minFreeBytes', () => !recs.hasRoom(), 3000);
      // Counted in the metrics, and sent as an event.
      const metrics = (await api(base, 'GET', '/metrics')).text;
      assert.ok(Number(/^parley_recording_errors_total (\d+)/m.exec(metrics)?.[1] ?? 0) > 0, 'parley_recording_errors_total counts it');
      const events = (await api(base, 'GET', '/events/recent')).body.events as Array<{ type: string; data: Record<string, unknown> }>;
      const failed = events.filter((e) => e.type === 'recording.failed');
      assert.ok(failed.some((e) => e.data.code === 'ENOSPC'), JSON.stringify(failed));
      assert.ok(failed.length <= recs.writeErrors, `one event per file and outage: ${failed.length} events, ${recs.writeErrors} failures`);
      const refused = await startCaller(parley, 'caller-expect-503.xml', `sip:bob@127.0.0.1:${callee.port}`);
      const refusedRun = await refused.done;
      sippOk(refusedRun, 'refused caller');
      const status = /^SIP\/2\.0 503 .*$/m.exec(refusedRun.messages)?.[0] ?? '';
      assert.equal(status.trim(), 'SIP/2.0 503 Service Unavailable', 'the standard phrase');
      assert.doesNotMatch(refusedRun.messages, /ENOSPC|no space/i, 'no internal error text on the wire');
      await refused.rtp.close();

      unfill(join(disk.dir, 'filler'));
      const callerRun = await caller.done;
      sippOk(callerRun, 'caller (its scenario fails on a BYE from Parley)');
      sippOk(await callee.done, 'callee');
      const meta = await waitFor('the finalized sidecar', () => sidecars(dir).find((m) => m.state === 'finalized'), 15_000);
      assert.ok((meta.writeFailures ?? []).length > 0, 'the sidecar lists the write failures');
      // The signature (`.json.sig`) is written beside the finalized sidecar right after it, through a `.tmp` renamed in place.
      await waitFor('no .tmp file left', () => (readdirSync(dir).some((f) => f.endsWith('.tmp')) ? undefined : true), 5_000).catch(() => undefined);
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
      for (const e of [meta.mix, meta.stereo!, ...meta.legs.flatMap((l) => l.stems)]) {
        if (e.lost) continue;
        const path = join(dir, e.file);
        assert.equal(readWavFile(path).headerDataBytes, statSync(path).size - 44, `${e.file}: header == data`);
        assert.ok(Math.abs(soxInfo(path).seconds * 1000 - e.durationMs) <= 1, `${e.file}: playable, as long as the sidecar says`);
      }
      assert.ok(meta.mix.durationMs > 6000, `the mix covers the call: ${meta.mix.durationMs} ms`);
      await caller.rtp.close();
      await callee.rtp.close();
    } finally {
      await parley?.stop();
    }
  });

  it("onWriteError 'hangup': the call ends with Reason Q.850;cause=47", async (t) => {
    if (!disk) return t.skip('needs root to mount a tmpfs');
    const dir = join(disk.dir, 'hangup');
    let parley: RunningParley | null = null;
    try {
      parley = await startParley(flows, { recording: { dir, extra: 'onWriteError: hangup, minFreeBytes: 0' } });
      const callee = await startCallee('callee.xml', 1000);
      const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
      await callee.rtp.waitForPackets(50, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      fillUp(join(disk.dir, 'filler'));
      const run = await caller.done;
      unfill(join(disk.dir, 'filler'));
      sippOk(run, 'caller');
      assert.match(run.messages, /^BYE [\s\S]*?^Reason: Q\.850;cause=47;text="recording failed"/m);
      await callee.done;
      await caller.rtp.close();
      await callee.rtp.close();
    } finally {
      await parley?.stop();
    }
  });
});
