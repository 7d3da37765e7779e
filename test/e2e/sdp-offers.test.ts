// Offers the record-notice gateway must get right (issue 12): a caller on hold or
// send-only still hears the whole notice and is bridged (prompts advance whatever the
// leg's direction); offers with impossible values get 488 with a Warning, never a 500
// or media sent nowhere. Nothing is left behind after any of them.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { channel, readWavFile, rms, toneAmplitude } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp } from '../helpers/sipp.ts';
import { nextCallEnd, received, SCENARIOS, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

const yaml = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: record-notice }] }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start }
    - play: { prompt: record-notice, notice: true }
    - bridge: { ringTimeout: 10 }
`;

interface Offer {
  addrtype?: string;
  connIp?: string;
  rtpport?: number;
  direction?: string;
  proto?: string;
  attr?: string;
}

async function offerCall(parley: RunningParley, scenario: string, to: string, o: Offer, pauseMs = 1000) {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start({ kind: 'tone', freq: 440, amplitude: 8000 });
  const s = await startSipp({
    scenario: `${SCENARIOS}/${scenario}`,
    transport: 'udp',
    remote: `127.0.0.1:${parley.sipPort}`,
    calls: 1,
    timeoutS: 30,
    extra: [
      '-key', 'to_uri', to,
      '-key', 'addrtype', o.addrtype ?? 'IP4',
      '-key', 'conn_ip', o.connIp ?? '127.0.0.1',
      '-key', 'rtpport', String(o.rtpport ?? rtp.port),
      '-key', 'direction', o.direction ?? 'sendrecv',
      '-key', 'proto', o.proto ?? 'RTP/AVP',
      '-key', 'attr', o.attr ?? 'a=ptime:20',
      '-d', String(pauseMs),
      '-trace_msg',
    ],
  });
  const run = await s.done;
  await rtp.close();
  return { run, rtp };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function newestSidecar(dir: string): any {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const all = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { startedAt?: string });
  return all.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt))).at(-1);
}

describe('hold and bad offers at the record-notice gateway (SIPp)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'offers-')), 'rules.json')));
  });

  after(async () => {
    await parley?.stop();
  });

  for (const [what, offer] of [
    ['a=sendonly', { direction: 'sendonly' }],
    ['c=0.0.0.0 (RFC 2543 hold)', { connIp: '0.0.0.0' }],
    ['a=inactive', { direction: 'inactive' }],
  ] as const) {
    it(`a caller whose offer is ${what} hears out the notice, is bridged to the callee, and nothing is left`, async () => {
      const callee = await startCallee('callee.xml', 1000);
      const ended = nextCallEnd(parley);
      const { run } = await offerCall(parley, 'caller-offer.xml', `sip:bob@127.0.0.1:${callee.port}`, offer, 1500);
      sippOk(run, 'caller');
      const calleeRun = await callee.done;
      sippOk(calleeRun, 'callee');
      assert.ok(received(calleeRun).some((m) => /^INVITE /m.test(m)), 'the callee was dialled');
      const early = received(run).find((m) => /^SIP\/2\.0 183 /m.test(m)) ?? '';
      assert.match(early, /^a=(recvonly|inactive)/m, 'Parley does not send to a caller that does not want it');
      const { outcome } = await ended;
      assert.equal(outcome.reason, 'completed');
      await callee.rtp.close();
      await assertNothingLeft(parley);
      const meta = newestSidecar(parley.recordingDir);
      assert.ok((meta.notices as unknown[]).length >= 1, 'the notice is in the recording metadata');
      assert.deepEqual((meta.legs as { role: string }[]).map((l) => l.role).sort(), ['caller', 'other'], 'the callee joined the recording');
    });
  }

  it('a caller whose c= line names its host (localhost) is resolved: it hears the notice, its voice is recorded, and it is bridged', async () => {
    const callee = await startCallee('callee.xml', 1000);
    const ended = nextCallEnd(parley);
    let heard: Int16Array;
    try {
      const { run, rtp } = await offerCall(parley, 'caller-offer.xml', `sip:bob@127.0.0.1:${callee.port}`, { connIp: 'localhost' }, 2500);
      sippOk(run, 'caller');
      sippOk(await callee.done, 'callee');
      heard = rtp.decoded();
    } finally {
      await callee.rtp.close();
    }
    assert.ok(heard.length >= 8000, `the caller heard Parley's RTP at its resolved address (${heard.length} samples)`);
    assert.ok(rms(heard) > 0.02, `the notice is audible (RMS ${rms(heard).toFixed(3)} of full scale)`);
    const { outcome } = await ended;
    assert.equal(outcome.reason, 'completed');
    await assertNothingLeft(parley);
    const meta = newestSidecar(parley.recordingDir) as { legs: { role: string; stems: { file: string }[] }[] };
    const stem = meta.legs.find((l) => l.role === 'caller')?.stems[0];
    assert.ok(stem, 'the caller has a stem');
    const wav = readWavFile(join(parley.recordingDir, stem.file));
    const x = channel(wav.samples, wav.channels, 0);
    const a = toneAmplitude(x, wav.sampleRate, 440);
    assert.ok(a > 0.05, `the caller's 440 Hz tone (0.24 of full scale), sent from the resolved address, is in its stem (${a.toFixed(3)})`);
  });

  const key30 = Buffer.alloc(30, 1).toString('base64');
  for (const [what, offer, warning] of [
    ['m=audio 70000', { rtpport: 70000 }, 399],
    ['c=IN IP6 ::1 (this RTP address is IPv4)', { addrtype: 'IP6', connIp: '::1' }, 301],
    ['c=IN IP4 999.1.1.1', { connIp: '999.1.1.1' }, 301],
    ['c=IN IP4 nowhere.invalid (a name that does not resolve)', { connIp: 'nowhere.invalid' }, 301],
    ['an SRTP key too short for its suite', { proto: 'RTP/SAVP', attr: 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=' }, 304],
    ['an SRTP key that is not base64', { proto: 'RTP/SAVP', attr: `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key30.slice(0, -2)}=!` }, 304],
  ] as const) {
    it(`an offer with ${what} gets 488 Not Acceptable Here with Warning ${warning}, and nothing is left`, async () => {
      const { run } = await offerCall(parley, 'caller-offer-expect-488.xml', 'sip:bob@127.0.0.1:9', offer);
      sippOk(run, 'caller');
      const final = received(run).find((m) => /^SIP\/2\.0 488 /m.test(m)) ?? '';
      assert.match(final, /^SIP\/2\.0 488 Not Acceptable Here\r?$/m, 'the standard reason phrase');
      assert.match(final, new RegExp(`^Warning: ${warning} parley "[^"]+"`, 'm'));
      await assertNothingLeft(parley);
    });
  }
});
