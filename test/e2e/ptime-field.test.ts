// Phones in the field send the packet length they are set to, whatever the answer says:
// 30 ms G.711 (some Cisco and Polycom sets, a=ptime:30), 40 or 60 ms from others, 10 ms
// from a few. The mixer played one packet per 20 ms tick, so a 30 ms stream lost a third of
// its audio and underran (the caller's stem was a broken tone). Each case here is a call
// from a phone that offers and sends such packets of a 440 Hz tone: Parley answers a=ptime:20
// and sends 20 ms packets (what its answer says), and the caller's recorded stem holds the
// tone whole: every 20 ms block of the middle of it at the level sent, the tone clean.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { medianToneShare, readWavFile, rms } from '../helpers/audio-analysis.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

const yaml = `
routing:
  rules: [{ name: rec, match: { method: INVITE, media: audio }, actions: [{ app: rec }] }]
flows:
  rec:
    - answer
    - record: { action: start }
    - play: { tone: "silence:4000" }
    - hangup
`;

const HZ = 440;
const AMPLITUDE = 8000;

describe('packets of 10, 30, 40 and 60 ms from the phone are recorded whole (a=ptime, a=maxptime)', () => {
  const parley = parleyPerSuite(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')));

  for (const [codec, ptime] of [['PCMU', 30], ['PCMA', 40], ['PCMU', 60], ['PCMU', 10], ['G722', 30]] as const) {
    it(`${codec} in ${ptime} ms packets: Parley answers and sends 20 ms; the caller's stem holds the tone without gaps`, async () => {
      const ua = await RawSipClient.open();
      const phone = await new RtpPeer({ codec, ptime }).bind();
      const c = new RawDialog(ua, parley().sipPort, `ptime-${codec}-${ptime}`, 'rec');
      const ended = nextCallEnd(parley());
      try {
        const ok = await c.invite(phone.sdp([`a=maxptime:${Math.max(ptime, 60)}`]));
        assert.equal(statusOf(ok), 200, ok);
        const answer = bodyOf(ok);
        assert.match(answer, /^a=ptime:20\r?$/m, 'the answer says 20 ms');
        phone.useRemoteSdp(answer);
        phone.start({ kind: 'tone', freq: HZ, amplitude: AMPLITUDE });
        const bye = await ua.nextMatching(/^BYE /, 30_000, c.callId);
        ua.send(parley().sipPort, `SIP/2.0 200 OK\r\n${bye.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
        const { active } = await ended;
        // What Parley sent is what its answer says: 20 ms packets (160 bytes of G.711 or G.722).
        const audio = phone.received.filter((p) => p.payloadType === phone.pt);
        assert.ok(audio.length > 50, `Parley sent audio (${audio.length} packets)`);
        assert.deepEqual([...new Set(audio.map((p) => p.payload.length))], [160], 'every packet Parley sent is 20 ms');

        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 15_000);
        const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
        const stem = readWavFile(join(parley().recordingDir, leg.stems[0]!.file));
        const rate = stem.sampleRate;
        // The middle two seconds of the four (start-up and the hang-up aside).
        const from = Math.floor(stem.samples.length / 2 - rate);
        const middle = stem.samples.subarray(from, from + 2 * rate);
        assert.equal(middle.length, 2 * rate, `the stem is long enough (${(stem.samples.length / rate).toFixed(2)} s)`);
        const share = medianToneShare(middle, HZ, rate);
        assert.ok(share > 0.9, `the stem is a clean ${HZ} Hz tone (median share ${share.toFixed(2)})`);
        const block = rate / 50;
        const expected = AMPLITUDE / 32768 / Math.SQRT2;
        const weak: number[] = [];
        for (let b = 0; b + block <= middle.length; b += block) {
          if (rms(middle, b, block) < 0.7 * expected) weak.push(b / block);
        }
        assert.ok(weak.length <= 2, `20 ms blocks below the tone's level (gaps): ${weak.length} of ${middle.length / block} (${weak.slice(0, 12).join(', ')})`);
        await assertNothingLeft(parley());
      } finally {
        ua.close();
        await phone.close();
      }
    });
  }
});
