// Phones in the field send the packet length they are set to, whatever the answer says:
// 30 ms G.711 (some Cisco and Polycom sets, a=ptime:30), 40 or 60 ms from others, 10 ms
// from a few. The mixer played one packet per 20 ms tick, so a 30 ms stream lost a third of
// its audio and underran (the caller's stem was a broken tone), and it sent 20 ms whatever
// the phone asked for. Each case here is a call from a phone that offers and sends such
// packets of a 440 Hz tone: Parley answers with the phone's a=ptime and sends packets of that
// length (what its answer says), and the caller's recorded stem holds the tone whole: every
// 20 ms block of the middle of it at the level sent, the tone clean. A callee whose answer
// says a=ptime:30 gets 30 ms packets from Parley, and hears the caller.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readWavFile, rms } from '../helpers/audio-analysis.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { hears } from '../helpers/peer-hearing.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertToneWhole } from '../helpers/whole-tone.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, BRIDGE_YAML, flowYaml, rawCall, rawCalleeCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const yaml = flowYaml('rec', `    - answer
    - record: { action: start }
    - play: { tone: "silence:4000" }
    - hangup
`);

const HZ = 440;
const AMPLITUDE = 8000;

/**
 * Runs calls' set-ups one after another, the calls themselves side by side: eight calls set up at
 * once made Parley's first packets late, and it sent them in a burst, cut short.
 */
function oneAtATime(): <T>(fn: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = last.then(fn);
    last = run.catch(() => undefined);
    return run;
  };
}

// The calls of this suite are independent and each lasts the flow's 4 s: they run side by side
// (its tests run concurrently), each waiting for its own call's end and recording by Call-ID;
// each test's check that nothing is left waits for all of them to be over.
describe('packets of 10, 30, 40 and 60 ms from the phone are recorded whole (a=ptime, a=maxptime)', { concurrency: true }, () => {
  const parley = rawParleyPerSuite(yaml);
  const setUp = oneAtATime();

  for (const [codec, ptime] of [['PCMU', 30], ['PCMA', 40], ['PCMU', 60], ['PCMU', 10], ['G722', 30]] as const) {
    it(`${codec} in ${ptime} ms packets: Parley answers and sends ${ptime} ms; the caller's stem holds the tone without gaps`, async () => {
      const phone = await new RtpPeer({ codec, ptime }).bind();
      await rawCall(parley(), { name: `ptime-${codec}-${ptime}`, user: 'rec', phone }, async (c, ua) => {
        const ended = callEnd(parley(), c.callId);
        await setUp(async () => {
          const ok = await c.invite(phone.sdp([`a=maxptime:${Math.max(ptime, 60)}`]));
          assert.equal(statusOf(ok), 200, ok);
          const answer = bodyOf(ok);
          assert.match(answer, new RegExp(`^a=ptime:${ptime}\\r?$`, 'm'), `the answer says ${ptime} ms`);
          phone.useRemoteSdp(answer);
          phone.start({ kind: 'tone', freq: HZ, amplitude: AMPLITUDE });
          await phone.waitForPackets(5);
        });
        await answerBye(ua, parley().sipPort, c.callId, 30_000);
        const { active } = await ended;
        // What Parley sent is what its answer says: packets of `ptime` ms (8 bytes a ms of G.711 or G.722).
        const audio = phone.received.filter((p) => p.payloadType === phone.pt);
        assert.ok(audio.length > 2000 / ptime, `Parley sent audio (${audio.length} packets)`);
        const lengths = audio.map((p) => p.payload.length);
        const whole = lengths.filter((n) => n === ptime * 8).length;
        // A packet cut short may end a stretch the sender skipped (a stall of this loaded machine).
        assert.ok(whole >= lengths.length - 2, `the packets Parley sent are ${ptime} ms: ${whole} of ${lengths.length} (${[...new Set(lengths)].join(', ')} bytes)`);

        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 15_000);
        const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
        const stem = readWavFile(join(parley().recordingDir, leg.stems[0]!.file));
        // The middle two seconds of the four (start-up and the hang-up aside), every 20 ms block at the level sent.
        assertToneWhole(stem.samples, stem.sampleRate, HZ, 'the stem', 0.7 * (AMPLITUDE / 32768 / Math.SQRT2));
        await assertNothingLeft(parley());
      });
    });
  }

  /** A call from `phone` sending the tone until Parley hangs up: the caller's recorded stem. */
  async function callerStem(phone: RtpPeer, name: string): Promise<{ samples: Int16Array; rate: number }> {
    return rawCall(parley(), { name, user: 'rec', phone }, async (c, ua) => {
      const ended = callEnd(parley(), c.callId);
      await setUp(async () => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        phone.start({ kind: 'tone', freq: HZ, amplitude: AMPLITUDE });
        await phone.waitForPackets(5);
      });
      await answerBye(ua, parley().sipPort, c.callId, 30_000);
      const { active } = await ended;
      const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 15_000);
      const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
      const stem = readWavFile(join(parley().recordingDir, leg.stems[0]!.file));
      await assertNothingLeft(parley());
      return { samples: stem.samples, rate: stem.sampleRate };
    });
  }

  // A lost packet leaves a frame partly empty. Its gap was filled with 0xff, G.711 µ-law's
  // silence but for G.722 (ADPCM, no silence byte) a run of the smallest steps down: the
  // decoder's step sizes shrank, and after each gap the tone came back faded in over some
  // 40 ms (measured: 5 % of its level 5 ms after the gap, 90 % only 40 ms later). Now a G.722
  // gap is not filled (packet-reframer.ts): the gap is silence, and the tone is back at once.
  it('G.722 in 30 ms packets, every tenth lost: each gap is silence as long as the loss, the tone back at full level after it, no burst', async () => {
    const { samples, rate } = await callerStem(await new RtpPeer({ codec: 'G722', ptime: 30, loseEvery: 10 }).bind(), 'g722-loss');
    const from = Math.floor(samples.length / 2 - rate);
    const middle = samples.subarray(from, from + 2 * rate);
    assert.equal(middle.length, 2 * rate, `the stem is long enough (${(samples.length / rate).toFixed(2)} s)`);
    const block = rate / 200;
    const expected = AMPLITUDE / 32768 / Math.SQRT2;
    // Runs of 5 ms blocks below the tone's level: one per lost packet (30 ms every 300 ms).
    const runs: number[] = [];
    let run = 0;
    let loudest = 0;
    for (let b = 0; b + block <= middle.length; b += block) {
      const level = rms(middle, b, block);
      loudest = Math.max(loudest, level);
      if (level < 0.7 * expected) run++;
      else if (run > 0) {
        runs.push(run * 5);
        run = 0;
      }
    }
    assert.ok(runs.length >= 5, `the lost packets show as gaps: ${runs.length} (${runs.join(', ')} ms)`);
    // A 30 ms loss is up to 40 ms of 5 ms blocks; one more gap may be longer (a late frame on this loaded machine).
    const long = runs.filter((ms) => ms > 40);
    assert.ok(long.length <= 1, `gaps no longer than the loss (the tone back at once after it): ${runs.join(', ')} ms`);
    assert.ok(loudest < 1.3 * expected, `no burst: the loudest 5 ms is ${(loudest / expected).toFixed(2)} of the tone's level`);
  });

  // Opus packets of 40 or 60 ms hold two or three 20 ms frames of audio (one SILK frame may
  // span them all). The mixer played one packet per 20 ms tick: the first 20 ms of each,
  // then the gap concealed at half level, then silence. Now the packet's audio is played
  // whole, 20 ms a tick (opus-packet-splitter.ts).
  for (const ptime of [40, 60]) {
    it(`Opus in ${ptime} ms packets: the caller's stem holds the tone without gaps`, async () => {
      const { samples, rate } = await callerStem(await new RtpPeer({ codec: 'opus', ptime }).bind(), `opus-${ptime}`);
      assertToneWhole(samples, rate, HZ, 'the stem', 0.6 * (AMPLITUDE / 32768 / Math.SQRT2));
    });
  }
});

describe('a callee whose answer says a=ptime:30', () => {
  const parley = rawParleyPerSuite(BRIDGE_YAML);

  it('gets 30 ms packets from Parley and hears the caller in them', async () => {
    await rawCalleeCall(parley(), { name: 'callee-ptime30', scenario: 'callee-ptime.xml', calleeHz: 600, extra: ['-key', 'ptime', '30'] }, async (c, phone, callee) => {
      phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      await waitFor('the callee gets RTP', () => (callee.rtp.received.length > 0 ? true : undefined), 15_000);
      const from = callee.rtp.received.length;
      await waitFor('two seconds of audio at the callee', () => (callee.rtp.received.length >= from + 2000 / 30 ? true : undefined), 15_000);
      const got = callee.rtp.received.slice(from).filter((p) => p.payloadType === 0);
      const whole = got.filter((p) => p.payload.length === 240).length;
      assert.ok(whole >= got.length - 2, `Parley sends the callee 30 ms packets: ${whole} of ${got.length}`);
      const t = hears(callee.rtp.decoded(from), 1000);
      assert.ok(t.ok, `the callee hears the caller's 1000 Hz tone (${t.detail})`);
    });
  });
});
