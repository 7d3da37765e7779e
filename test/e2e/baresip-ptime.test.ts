// A real softphone set to 30 ms packets: baresip (account ;ptime=30) offers a=ptime:30 and
// sends 30 ms G.711, as some Cisco and Polycom sets do. Parley answers a=ptime:30, and its
// recording holds baresip's 440 Hz whole: the middle of the mix is a clean tone at a steady
// level, no 20 ms block missing (before, a third of each packet was lost: no tone at all).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tlsParleyPerSuite } from '../helpers/tls-parley.ts';
import { assertToneWhole } from '../helpers/whole-tone.ts';
import { baresipRecordedCall, recordAllYaml } from './helpers.ts';

const TONE_HZ = 440;

const yaml = recordAllYaml('rec', 4000);

describe('baresip sending 30 ms packets (a=ptime:30)', () => {
  const tls = tlsParleyPerSuite(yaml);

  it('is answered a=ptime:30 and recorded whole', async () => {
    const { trace, mix } = await baresipRecordedCall(tls(), { toneHz: TONE_HZ, quitAfterS: 20, endMs: 30_000, ptime: 30 });
    const invite = trace.slice(trace.indexOf('INVITE sip:parley'));
    assert.match(invite, /a=ptime:30/, 'baresip offered 30 ms');
    const ok = trace.slice(trace.indexOf('SIP/2.0 200 OK'));
    assert.match(ok, /a=ptime:30/, 'Parley answered 30 ms');
    assertToneWhole(mix.samples, mix.sampleRate, TONE_HZ, 'the mix');
  });
});
