// A real softphone calls Parley over TLS: baresip (libre with OpenSSL) dials
// `sip:…;transport=tls`, Parley answers, records and hangs up after 2.5 s. The signalling
// is checked in baresip's SIP trace (TLS both ways, Parley's Contact says transport=tls,
// Parley's BYE arrives over TLS) and the media by ear: baresip's 440 Hz is in the recording.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { tlsParleyPerSuite } from '../helpers/tls-parley.ts';
import { waitFor } from '../helpers/wait.ts';
import { baresipRecordedCall, recordAllYaml } from './helpers.ts';

const TONE_HZ = 440;

const yaml = recordAllYaml('tls-record', 2500);

describe('baresip calls Parley over TLS', () => {
  const tls = tlsParleyPerSuite(yaml);

  it('a whole call over TLS with audio in the recording', async () => {
    const { tlsPort } = tls();
    const { trace, mix } = await baresipRecordedCall(tls(), { toneHz: TONE_HZ, quitAfterS: 15, endMs: 20_000 }, async (phone) => {
      // Parley's BYE reaches baresip over TLS.
      await waitFor('baresip saw the BYE', () => /BYE sip:alice/.test(phone.output()) || undefined, 5000);
    });
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${tlsPort}\\s+INVITE sip:parley@127\\.0\\.0\\.1:${tlsPort};transport=tls`));
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:${tlsPort} -> 127\\.0\\.0\\.1:\\d+\\s+SIP/2\\.0 200 OK`));
    assert.match(trace, new RegExp(`Contact: <sip:127\\.0\\.0\\.1:${tlsPort};transport=tls>`));
    assert.match(trace, new RegExp(`TLS 127\\.0\\.0\\.1:${tlsPort} -> 127\\.0\\.0\\.1:\\d+\\s+BYE `));
    assert.doesNotMatch(trace, /^UDP /m, 'no SIP over UDP');
    // The recording holds baresip's tone.
    const w = mix.sampleRate / 2;
    const mid = Math.floor(mix.samples.length / 2);
    const share = purity(mix.samples, mix.sampleRate, TONE_HZ, mid - w / 2, w);
    assert.ok(share > 0.5, `440 Hz share in the middle of the mix: ${share.toFixed(2)}`);
  });

  // srtp-mandf offers RTP/SAVPF: an answer in another profile (RTP/SAVP, as Parley gave before)
  // makes baresip turn the stream off, and the recording was silent.
  for (const mediaenc of ['srtp-mand', 'srtp-mandf']) {
    it(`SDES-SRTP over TLS (baresip mediaenc=${mediaenc}, libre's own SRTP): answered in the offered profile with a key of Parley's; the recording holds the tone`, async () => {
      const { trace, mix } = await baresipRecordedCall(tls(), { toneHz: TONE_HZ, quitAfterS: 15, endMs: 20_000, mediaenc });
      const offer = /INVITE sip:parley[^]*?(?=\n\S+ 127\.0\.0\.1:\d+ -> )/.exec(trace)?.[0] ?? '';
      const offered = /m=audio \d+ (RTP\/SAVPF?) /.exec(offer)?.[1];
      assert.equal(offered, mediaenc === 'srtp-mandf' ? 'RTP/SAVPF' : 'RTP/SAVP', 'baresip offered SRTP');
      const suite = /a=crypto:(\d+) (\S+) inline:/.exec(offer);
      assert.ok(suite, `a crypto line in the offer:\n${offer.slice(0, 1500)}`);
      const answer = /SIP\/2\.0 200 OK[^]*?m=audio \d+ (\S+)[^]*?a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)/.exec(trace);
      assert.ok(answer, 'an SRTP answer in the 200');
      assert.equal(answer[1], offered, 'answered in the offered profile');
      assert.deepEqual([answer[2], answer[3]], [suite[1], suite[2]], 'the offered tag and suite');
      assert.match(trace, /SRTP is Enabled/, 'baresip turned SRTP on');
      const w = mix.sampleRate / 2;
      const share = purity(mix.samples, mix.sampleRate, TONE_HZ, Math.floor(mix.samples.length / 2) - w / 2, w);
      assert.ok(share > 0.5, `440 Hz share in the middle of the mix: ${share.toFixed(2)}`);
    });
  }
});
