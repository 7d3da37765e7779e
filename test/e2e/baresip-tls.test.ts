// A real softphone calls Parley over TLS: baresip (libre with OpenSSL) dials
// `sip:…;transport=tls`, Parley answers, records and hangs up after 2.5 s. The signalling
// is checked in baresip's SIP trace (TLS both ways, Parley's Contact says transport=tls,
// Parley's BYE arrives over TLS) and the media by ear: baresip's 440 Hz is in the recording.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
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
      actions: [{ app: tls-record }]
flows:
  tls-record:
    - answer
    - record: { action: start, stereo: false, stems: false }
    - play: { tone: "silence:2500" }
    - hangup
`;

describe('baresip calls Parley over TLS', () => {
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

  it('a whole call over TLS with audio in the recording', async () => {
    const ended = nextCallEnd(parley, 20_000);
    const phone = await dialWithBaresip({
      uri: `sip:parley@127.0.0.1:${tlsPort};transport=tls`,
      caFile: pki.caFile,
      certPem: Buffer.concat([pki.client.cert, pki.client.key]),
      toneHz: TONE_HZ,
      quitAfterS: 15,
    });
    try {
      const { outcome } = await ended;
      assert.equal(outcome.reason, 'completed', phone.output().slice(-2000));
      // Parley's BYE reaches baresip over TLS.
      await waitFor('baresip saw the BYE', () => /BYE sip:alice/.test(phone.output()) || undefined, 5000);
    } finally {
      await phone.stop();
    }
    const trace = phone.output();
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${tlsPort}\\s+INVITE sip:parley@127\\.0\\.0\\.1:${tlsPort};transport=tls`));
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:${tlsPort} -> 127\\.0\\.0\\.1:\\d+\\s+SIP/2\\.0 200 OK`));
    assert.match(trace, new RegExp(`Contact: <sip:127\\.0\\.0\\.1:${tlsPort};transport=tls>`));
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:${tlsPort} -> 127\\.0\\.0\\.1:\\d+\\s+BYE `));
    assert.doesNotMatch(trace, /^UDP /m, 'no SIP over UDP');
    // The recording holds baresip's tone.
    const dir = parley.recordingDir;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const meta = await waitFor('a finalized recording', (): any => {
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      const m = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { state?: string; mix?: { file: string; sha256?: string } })[0];
      return m && (m.state === 'finalized' || m.mix?.sha256) ? m : undefined;
    }, 10_000);
    const mix = readWavFile(join(dir, meta.mix.file));
    const w = mix.sampleRate / 2;
    const mid = Math.floor(mix.samples.length / 2);
    const share = purity(mix.samples, mix.sampleRate, TONE_HZ, mid - w / 2, w);
    assert.ok(share > 0.5, `440 Hz share in the middle of the mix: ${share.toFixed(2)}`);
  });
});
