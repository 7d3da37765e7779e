// The flows shipped in parley.yaml, run as a user would reach them: the rule
// chain and flows are read from the shipped file. The PIN conference takes its
// PIN as RFC 4733 digits; a transfer step sends a blind REFER; the record-notice
// gateway to a busy callee takes a voice message, a recording of its own.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { waitFor } from '../helpers/wait.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { medianToneShare, readWavFile } from '../helpers/audio-analysis.ts';
import { received, sippOk, startCallee, startCaller } from './helpers.ts';

/** parley.yaml's routing and flows, plus one extra flow and rule for the transfer test. */
function shippedYaml(): string {
  const shipped = parse(readFileSync('parley.yaml', 'utf8')) as { routing: { rules: unknown[] }; flows: Record<string, unknown> };
  shipped.routing.rules.unshift({ name: 'transfer-test', match: { requestUri: 'sip:transfer@*' }, actions: [{ app: 'transfer-test' }] });
  shipped.flows['transfer-test'] = [{ answer: null }, { transfer: { to: 'sip:operator@example.com' } }];
  return stringify({ routing: shipped.routing, flows: shipped.flows });
}

describe('shipped flows (parley.yaml) with SIPp callers', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(shippedYaml());
  });

  after(async () => {
    await parley?.stop();
  });

  it('the PIN conference lets the caller in after 4321# and plays the join tone', async () => {
    const caller = await startCaller(parley, 'caller.xml', 'sip:conference@127.0.0.1:5999', { pauseMs: 5000 });
    await caller.rtp.waitForPackets(20);
    for (const d of '4321#') caller.rtp.queueDtmf(d, 100);
    const until = Date.now() + 10_000;
    let size = 0;
    while (Date.now() < until && size === 0) {
      size = (await parley.app.conferences!.get('demo'))?.roster.size ?? 0;
      if (size === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(size, 1, 'the caller joined the demo room');
    sippOk(await caller.done, 'caller');
    await caller.rtp.close();
  });

  it('a transfer step sends a blind REFER with Refer-To, then hangs up', async () => {
    const caller = await startCaller(parley, 'caller-refer.xml', 'sip:transfer@127.0.0.1:5999');
    const run = await caller.done;
    sippOk(run, 'caller');
    const refer = received(run).find((m) => /^REFER /m.test(m)) ?? '';
    assert.match(refer, /^Refer-To: <sip:operator@example\.com>/m);
    await caller.rtp.close();
  });

  it('record-notice to a busy callee falls back to voicemail: the message is a recording of its own, ended by #', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const sidecars = (): any[] =>
      (existsSync(parley.recordingDir) ? readdirSync(parley.recordingDir) : [])
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(parley.recordingDir, f), 'utf8')))
        .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const callee = await startCallee('callee-busy.xml', null);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: null });
    try {
      // The message recording starts after the prompt and the beep.
      await waitFor('the message recording', () => sidecars().length === 2, 30_000);
      caller.rtp.setTone(440);
      await new Promise((r) => setTimeout(r, 2000));
      caller.rtp.setSilence();
      caller.rtp.queueDtmf('#', 100);
      const run = await caller.done;
      sippOk(run, 'caller (hung up by Parley after the message)');
      sippOk(await callee.done, 'busy callee');
      await waitFor('both recordings closed', () => sidecars().every((m) => m.mix?.sha256));
      const [call, message] = sidecars();
      assert.ok(call.notices.length >= 1, 'the call recording holds the notice');
      assert.equal(message.legs.length, 1, 'the message has the caller alone');
      assert.match(message.legs[0].originalTo, /^sip:bob@127\.0\.0\.1:\d+$/, 'and names whom it is for');
      const mix = readWavFile(join(parley.recordingDir, message.mix.file));
      const seconds = mix.samples.length / mix.sampleRate;
      assert.ok(seconds > 1.8 && seconds < 5, `the message lasts ${seconds.toFixed(2)} s (2 s of talk, ended by #)`);
      const share = medianToneShare(mix.samples, 440, mix.sampleRate);
      assert.ok(share > 0.5, `the message holds the caller's voice (440 Hz share ${share.toFixed(3)})`);
    } finally {
      caller.kill();
      callee.kill();
      await caller.rtp.close();
      await callee.rtp.close();
    }
  });
});
