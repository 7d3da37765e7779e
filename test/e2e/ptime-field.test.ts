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
import { readWavFile } from '../helpers/audio-analysis.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { hears } from '../helpers/peer-hearing.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertToneWhole } from '../helpers/whole-tone.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, BRIDGE_YAML, flowYaml, rawCall, rawCalleeCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const yaml = flowYaml('rec', `    - answer
    - record: { action: start }
    - play: { tone: "silence:4000" }
    - hangup
`);

const HZ = 440;
const AMPLITUDE = 8000;

describe('packets of 10, 30, 40 and 60 ms from the phone are recorded whole (a=ptime, a=maxptime)', () => {
  const parley = rawParleyPerSuite(yaml);

  for (const [codec, ptime] of [['PCMU', 30], ['PCMA', 40], ['PCMU', 60], ['PCMU', 10], ['G722', 30]] as const) {
    it(`${codec} in ${ptime} ms packets: Parley answers and sends ${ptime} ms; the caller's stem holds the tone without gaps`, async () => {
      const phone = await new RtpPeer({ codec, ptime }).bind();
      const ended = nextCallEnd(parley());
      await rawCall(parley(), { name: `ptime-${codec}-${ptime}`, user: 'rec', phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp([`a=maxptime:${Math.max(ptime, 60)}`]));
        assert.equal(statusOf(ok), 200, ok);
        const answer = bodyOf(ok);
        assert.match(answer, new RegExp(`^a=ptime:${ptime}\\r?$`, 'm'), `the answer says ${ptime} ms`);
        phone.useRemoteSdp(answer);
        phone.start({ kind: 'tone', freq: HZ, amplitude: AMPLITUDE });
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
