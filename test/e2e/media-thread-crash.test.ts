// A media thread that dies mid-call (media.threads: 2): the calls whose rooms
// it ran end with a BYE to both parties carrying
// `Reason: Q.850;cause=41;text="media thread failed"`, their recordings are
// closed and playable, the calls on the other thread keep their audio, and a
// new thread takes the dead one's place.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertByeReason, gatewayYaml, nextCallEnd, received, sippOk, startCallee, startCaller } from './helpers.ts';

const yaml = gatewayYaml('notice', ['answer: { early: true }', 'record: { action: start }', 'bridge: { ringTimeout: 10 }']);

describe('faults: a media thread dies mid-call (media.threads: 2)', () => {
  const running = parleyPerSuite(yaml, { mediaThreads: 2 });

  it('ends only its calls (BYE with Q.850 cause 41 both ways), leaves playable recordings, and is replaced', async () => {
    const parley = running();
    const media = parley.app.media!;
    assert.equal(media.threadCount, 2);
    // Call A: its parties wait for Parley's BYE.
    const calleeA = await startCallee('callee.xml', 1000);
    const callerA = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${calleeA.port}`, { toneHz: 440 });
    await calleeA.rtp.waitForPackets(75, 15_000);
    // Call B, on the other thread (rooms go to the least loaded one): it hangs up by itself later.
    const calleeB = await startCallee('callee.xml', 1000);
    const callerB = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${calleeB.port}`, { toneHz: 440, pauseMs: 7000 });
    await calleeB.rtp.waitForPackets(75, 15_000);

    const calls = [...parley.app.calls!.active.values()].map((a) => a.call);
    const callA = calls.find((c) => c.originalTo.uri.endsWith(`:${calleeA.port}`))!;
    const callB = calls.find((c) => c.originalTo.uri.endsWith(`:${calleeB.port}`))!;
    const k = media.threadOf(callA.room.id);
    assert.notEqual(k, null, 'call A runs in a media thread');
    assert.notEqual(media.threadOf(callB.room.id), k, 'the two calls run on different threads');

    const died = media.waitFor('threaddied', 10_000);
    const endedA = nextCallEnd(parley);
    media.crashThreadForTest(k!);
    assert.equal((await died)[0], k);

    const [runA, runCalleeA] = [await callerA.done, await calleeA.done];
    sippOk(runA, 'caller A');
    sippOk(runCalleeA, 'callee A');
    assertByeReason([['caller', runA], ['callee', runCalleeA]], /^Reason: Q\.850;cause=41;text="media thread failed"/m);
    const { active } = await endedA;
    assert.equal(active.call, callA);

    // Call B goes on: two more seconds of audio each way, then it ends normally.
    assert.equal(callB.ended, false);
    const [atCallee, atCaller] = [calleeB.rtp.received.length, callerB.rtp.received.length];
    await Promise.all([calleeB.rtp.waitForPackets(atCallee + 100, 10_000), callerB.rtp.waitForPackets(atCaller + 100, 10_000)]);
    sippOk(await callerB.done, 'caller B');
    sippOk(await calleeB.done, 'callee B');

    // Both recordings are final and sox reads them.
    const dir = parley.recordingDir;
    const metas = await waitFor('two final sidecars', () => {
      const m = finalSidecars(dir);
      return m.length >= 2 ? m : undefined;
    });
    for (const m of metas) {
      const seconds = Number(execFileSync('sox', ['--i', '-D', join(dir, m.mix.file as string)], { encoding: 'utf8' }).trim());
      assert.ok(seconds > 1, `the mix ${m.mix.file} lasts ${seconds} s`);
    }

    // A new call after the crash is carried as usual.
    const calleeC = await startCallee('callee.xml', 1000);
    const callerC = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${calleeC.port}`, { toneHz: 440, pauseMs: 2000 });
    await calleeC.rtp.waitForPackets(50, 15_000);
    sippOk(await callerC.done, 'caller C');
    sippOk(await calleeC.done, 'callee C');
    for (const p of [callerA, calleeA, callerB, calleeB, callerC, calleeC]) await p.rtp.close();
  });
});

describe('faults: the media thread of a conference room dies (media.threads: 2)', () => {
  const running = parleyPerSuite(`
routing:
  rules:
    - name: everyone
      match: { method: INVITE, media: audio }
      actions: [{ app: conf }]
flows:
  conf: [{ conference: { room: demo } }]
`, { mediaThreads: 2 });

  it("the participants' calls end with BYE Reason Q.850 cause 41", async () => {
    const parley = running();
    const media = parley.app.media!;
    const caller = await startCaller(parley, 'caller-wait-bye.xml', 'sip:demo@127.0.0.1:5999', { toneHz: 440 });
    const k = await waitFor('the conference room', () => media.threadOf('conf-demo') ?? undefined, 15_000);
    await caller.rtp.waitForPackets(50, 15_000);
    const ended = nextCallEnd(parley);
    media.crashThreadForTest(k);
    const run = await caller.done;
    sippOk(run, 'caller');
    const bye = received(run).find((m) => /^BYE /m.test(m)) ?? '';
    assert.match(bye, /^Reason: Q\.850;cause=41;text="media thread failed"/m, "the caller's BYE says why");
    await ended;
    await caller.rtp.close();
  });
});
