// A real softphone set to 30 ms packets: baresip (account ;ptime=30) offers a=ptime:30 and
// sends 30 ms G.711, as some Cisco and Polycom sets do. Parley answers a=ptime:30, and its
// recording holds baresip's 440 Hz whole: the middle of the mix is a clean tone at a steady
// level, no 20 ms block missing (before, a third of each packet was lost: no tone at all).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { medianToneShare, readWavFile, rms } from '../helpers/audio-analysis.ts';
import { dialWithBaresip } from '../helpers/baresip.ts';
import { freePort } from '../helpers/free-port.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { makeTestPki, type TestPki } from '../helpers/tls-certs.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';

const TONE_HZ = 440;

const yaml = `
routing:
  rules:
    - name: all
      match: { method: INVITE }
      actions: [{ app: rec }]
flows:
  rec:
    - answer
    - record: { action: start, stereo: false, stems: false }
    - play: { tone: "silence:4000" }
    - hangup
`;

describe('baresip sending 30 ms packets (a=ptime:30)', () => {
  let pki: TestPki;
  let parley: RunningParley;
  let tlsPort: number;

  before(async () => {
    pki = await makeTestPki();
    tlsPort = await freePort();
    parley = await startParley(yaml, { tls: { port: tlsPort, cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.caFile } });
  });
  after(async () => {
    await parley?.stop();
    await pki?.remove();
  });

  it('is answered a=ptime:30 and recorded whole', async () => {
    const ended = nextCallEnd(parley, 30_000);
    const phone = await dialWithBaresip({
      uri: `sip:parley@127.0.0.1:${tlsPort};transport=tls`,
      caFile: pki.caFile,
      certPem: Buffer.concat([pki.client.cert, pki.client.key]),
      toneHz: TONE_HZ,
      quitAfterS: 20,
      ptime: 30,
    });
    try {
      const { outcome } = await ended;
      assert.equal(outcome.reason, 'completed', phone.output().slice(-2000));
    } finally {
      await phone.stop();
    }
    const trace = phone.output();
    const invite = trace.slice(trace.indexOf('INVITE sip:parley'));
    assert.match(invite, /a=ptime:30/, 'baresip offered 30 ms');
    const ok = trace.slice(trace.indexOf('SIP/2.0 200 OK'));
    assert.match(ok, /a=ptime:30/, 'Parley answered 30 ms');
    const dir = parley.recordingDir;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const meta = await waitFor('a finalized recording', (): any => {
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      const m = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { state?: string; mix?: { file: string; sha256?: string } })[0];
      return m && (m.state === 'finalized' || m.mix?.sha256) ? m : undefined;
    }, 10_000);
    const mix = readWavFile(join(dir, meta.mix.file));
    const rate = mix.sampleRate;
    const from = Math.floor(mix.samples.length / 2 - rate);
    const middle = mix.samples.subarray(from, from + 2 * rate);
    assert.equal(middle.length, 2 * rate, `the mix is long enough (${(mix.samples.length / rate).toFixed(2)} s)`);
    const share = medianToneShare(middle, TONE_HZ, rate);
    assert.ok(share > 0.9, `the mix is a clean ${TONE_HZ} Hz tone (median share ${share.toFixed(2)})`);
    const block = rate / 50;
    const level = rms(middle);
    const weak: number[] = [];
    for (let b = 0; b + block <= middle.length; b += block) if (rms(middle, b, block) < 0.6 * level) weak.push(b / block);
    assert.ok(weak.length <= 2, `20 ms blocks well below the tone's level (gaps): ${weak.length} (${weak.slice(0, 12).join(', ')})`);
  });
});
