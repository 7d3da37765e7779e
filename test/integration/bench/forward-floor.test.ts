// bench:floor end to end (bench/forward-floor.ts), shortened: a few synthetic calls
// through the bare node:dgram relay, Parley's media plane and (when installed) rtpengine,
// each its own process. Every call must be relayed both ways by each, and the figures
// the bench writes must be the ones it measured.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { installed } from '../../helpers/installed.ts';

const root = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'parley-floor-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));


interface Run {
  cpuMs: number;
  forwarded: number;
  sent: number;
  callsHeard: number;
  usPerPacket: number;
  sendLateMs: { p99: number; max: number };
}
interface Result {
  runs: Run[];
  usPerPacket: number;
  msPerFiveSecondCall: number;
  detail?: Record<string, unknown>;
}

describe('bench:floor', { timeout: 120_000 }, () => {
  it('relays every call both ways through each relay and reports CPU per packet', () => {
    const relays = ['node', 'parley', ...(installed('rtpengine') ? ['rtpengine'] : [])];
    const out = join(dir, 'floor.json');
    const printed = execFileSync(process.execPath, ['--import', 'tsx', 'bench/forward-floor.ts', '--calls', '6', '--seconds', '1.5', '--warmup', '0.7', '--runs', '1', '--relays', relays.join(','), '--out', out], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    const report = JSON.parse(readFileSync(out, 'utf8')) as { calls: number; results: Record<string, Result>; ratioToRtpengine: Record<string, number | null> };
    assert.equal(report.calls, 6);
    assert.deepEqual(Object.keys(report.results).sort(), [...relays].sort());
    for (const name of relays) {
      const r = report.results[name]!;
      assert.equal(r.runs.length, 1);
      const run = r.runs[0]!;
      // 6 calls at 50 packets/s for 1.5 s: 450 caller packets; each comes back through the relay twice.
      assert.ok(run.sent >= 400 && run.sent <= 500, `${name}: ${run.sent} sent`);
      assert.equal(run.callsHeard, 6, `${name}: every call relayed both ways`);
      assert.ok(run.forwarded >= 0.9 * 2 * run.sent, `${name}: ${run.forwarded} forwarded of ${2 * run.sent}`);
      // The relay's own CPU, read from /proc in 10 ms ticks: over 1.5 s it can round to 0 for a tiny load.
      assert.ok(run.cpuMs >= 0 && run.cpuMs < 1500 * 2, `${name}: ${run.cpuMs} ms`);
      assert.equal(run.usPerPacket, Math.round(((run.cpuMs * 1000) / run.forwarded) * 100) / 100);
      assert.equal(r.msPerFiveSecondCall, Math.round(r.usPerPacket * 500) / 1000);
      assert.match(printed, new RegExp(`${name}\\s+run 1: ${run.forwarded} packets forwarded`));
    }
    assert.ok(Number(report.results.parley!.detail?.mediaThreads) >= 1, 'Parley ran its media threads');
    if (relays.includes('rtpengine')) assert.equal(report.ratioToRtpengine.rtpengine, 1);
  });
});
