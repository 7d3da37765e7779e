// The record-notice gateway end to end: a SIPp caller → Parley (rule chain →
// record-notice flow) → a SIPp callee, each with a Node RTP peer on the SDP port
// its SIPp advertises. Audio is checked as audio: the caller hears the notice
// (envelope correlation with the prompt) then the callee's tone; the callee hears
// the whisper then the caller; the recording holds both. Every leg is PCMU, so the
// notice, the caller's ringback and the whisper are made at 8 kHz: no resampler
// runs during the call, on either thread.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bestCorrelation, envelope, purity, readWavFile } from '../helpers/audio-analysis.ts';
import { waitFor } from '../helpers/wait.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { DRACHTIO_BIN, spawnRealDrachtio, type RealDrachtioServer } from '../helpers/real-drachtio.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';

const SCEN = resolve('test/e2e/scenarios');
const CALLER_HZ = 440;
const CALLEE_HZ = 1000;

const flows = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start }
    - play: { prompt: record-notice, notice: true }
    - bridge: { whisper: { prompt: record-notice }, ringTimeout: 10 }
`;

/** The prompt's 20 ms loudness envelope. */
function promptEnvelope(): number[] {
  const w = readWavFile(resolve('prompts/record-notice.wav'));
  return envelope(w.samples, w.sampleRate);
}

/**
 * Tone purity over the last `ms` of a decoded 8 kHz stream: the median over 250 ms
 * windows, so that one concealed frame (which breaks the tone's phase) does not count
 * as the party being absent.
 */
function tailPurity(pcm: Int16Array, hz: number, ms = 1500): number {
  const w = 2000;
  const v: number[] = [];
  for (let s = pcm.length - (8000 * ms) / 1000; s + w <= pcm.length; s += w) v.push(purity(pcm, 8000, hz, s, w));
  v.sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)] ?? 0;
}

gatewaySuite('record-notice gateway (SIPp caller and callee, real audio)', false);
// The same through a real drachtio-server (sip.server: remote), when PARLEY_DRACHTIO_BIN names one.
gatewaySuite('record-notice gateway through a real drachtio-server', true);

function gatewaySuite(title: string, real: boolean): void {
  describe(title, { skip: real && !DRACHTIO_BIN && 'needs PARLEY_DRACHTIO_BIN' }, () => {
    let parley: RunningParley;
    let server: RealDrachtioServer | undefined;
    let sipPort = 0;
    let caller: RtpPeer;
    let callee: RtpPeer;
    let calleeRun: Awaited<ReturnType<typeof startSipp>>;
    let callerCode = -1;
    let calleeMessages = '';
    let resampled = { main: -1, threads: -1 };

    before(async () => {
      if (real) {
        server = await spawnRealDrachtio();
        parley = await startParley(flows, { remote: { controlPort: server.controlPort, secret: server.secret } });
        sipPort = server.sipPort;
      } else {
        parley = await startParley(flows);
        sipPort = parley.sipPort;
      }
      const media = parley.app.media!;
      await media.nextStats();
      const before = media.resampledFrames;
      callee = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
      caller = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
      callee.start({ kind: 'tone', freq: CALLEE_HZ, amplitude: 8000 });
      caller.start({ kind: 'tone', freq: CALLER_HZ, amplitude: 8000 });
      calleeRun = await startSipp({
        scenario: join(SCEN, 'callee.xml'),
        transport: 'udp',
        calls: 1,
        timeoutS: 30,
        extra: ['-key', 'rtpport', String(callee.port), '-trace_msg'],
      });
      const run = await runSipp({
        scenario: join(SCEN, 'caller.xml'),
        transport: 'udp',
        remote: `127.0.0.1:${sipPort}`,
        calls: 1,
        timeoutS: 30,
        extra: ['-key', 'to_uri', `sip:bob@127.0.0.1:${calleeRun.port}`, '-key', 'rtpport', String(caller.port), '-d', '5000'],
      });
      callerCode = run.code;
      const calleeDone = await calleeRun.done;
      calleeMessages = calleeDone.messages;
      assert.equal(calleeDone.code, 0, `callee SIPp: ${calleeDone.errors || calleeDone.stdout.slice(-2000)}`);
      // The flow closes the recording when the call ends; wait for the final sidecar.
      await waitFor('the final sidecar', () => readSidecars(parley.recordingDir).some((m) => m.state === 'finalized' || m.mix?.sha256));
      await media.nextStats();
      const now = media.resampledFrames;
      resampled = { main: now.main - before.main, threads: now.threads - before.threads };
    });

    after(async () => {
      await caller?.close();
      await callee?.close();
      await parley?.stop();
      await server?.close();
    });

    it('the call completes on both SIPp sides', () => {
      assert.equal(callerCode, 0, 'caller SIPp exit code');
    });

    it("resamples nothing: notice, ringback and whisper are made at the room's 8 kHz", () => {
      assert.deepEqual(resampled, { main: 0, threads: 0 });
    });

    it('the B leg goes to the original To and carries the loop marker and the caller identity (its From: the P-Asserted-Identity a caller that is no upstream sent is dropped, RFC 3325 §5)', () => {
      const invite = calleeMessages.split(/-{5,}/).find((m) => /INVITE sip:bob@127\.0\.0\.1/.test(m)) ?? '';
      assert.match(invite, /^X-Parley-Leg: b2b/m);
      assert.match(invite, /^P-Asserted-Identity: "Alice" <sip:alice@127\.0\.0\.1/m);
      assert.doesNotMatch(invite, /ceo@bank\.example/);
      assert.match(invite, /^From: "Alice" <sip:alice@127\.0\.0\.1/m);
    });

    it('the caller hears the notice, then the callee and not itself', () => {
      const heard = caller.decoded();
      assert.ok(heard.length > 8000 * 4, `caller received ${heard.length / 8000} s`);
      const ref = promptEnvelope();
      const got = envelope(heard.subarray(0, 8000 * 4), 8000);
      const { r } = bestCorrelation(ref, got, 100);
      assert.ok(r > 0.8, `notice envelope correlation ${r.toFixed(3)}`);
      assert.ok(tailPurity(heard, CALLEE_HZ) > 0.6, `callee tone share ${tailPurity(heard, CALLEE_HZ).toFixed(3)}`);
      assert.ok(tailPurity(heard, CALLER_HZ) < 0.05, `own tone share ${tailPurity(heard, CALLER_HZ).toFixed(3)}`);
    });

    it('the callee hears the whisper, then the caller and not itself', () => {
      const heard = callee.decoded();
      const ref = promptEnvelope();
      const got = envelope(heard.subarray(0, 8000 * 3), 8000);
      const { r } = bestCorrelation(ref, got, 100);
      assert.ok(r > 0.8, `whisper envelope correlation ${r.toFixed(3)}`);
      assert.ok(tailPurity(heard, CALLER_HZ) > 0.6, `caller tone share ${tailPurity(heard, CALLER_HZ).toFixed(3)}`);
      assert.ok(tailPurity(heard, CALLEE_HZ) < 0.05, `own tone share ${tailPurity(heard, CALLEE_HZ).toFixed(3)}`);
    });

    it('the recording holds both parties, a stem each, and names the original To and the notice', () => {
      const [meta] = readSidecars(parley.recordingDir);
      assert.ok(meta, 'a sidecar');
      const legs = meta.legs as Array<{ legId: string; originalTo: string; role: string; stems: Array<{ file: string }> }>;
      assert.deepEqual(legs.map((l) => l.role).sort(), ['caller', 'other']);
      for (const l of legs) assert.match(l.originalTo, /^sip:bob@127\.0\.0\.1:\d+$/);
      assert.ok((meta.notices as unknown[]).length >= 1, 'the notice is in the metadata');
      const mix = readWavFile(join(parley.recordingDir, meta.mix.file));
      assert.ok(mix.samples.length / mix.sampleRate > 4, 'the mix lasts the call');
      const tail = (x: Int16Array, hz: number) => {
        const w = mix.sampleRate / 4;
        const v = [0, 1, 2, 3].map((k) => purity(x, mix.sampleRate, hz, x.length - (4 - k) * w, w)).sort((a, b) => a - b);
        return (v[1]! + v[2]!) / 2;
      };
      assert.ok(tail(mix.samples, CALLER_HZ) > 0.2 && tail(mix.samples, CALLEE_HZ) > 0.2, 'both tones in the mix');
      const stem = (role: string) => {
        const l = legs.find((x) => x.role === role)!;
        return readWavFile(join(parley.recordingDir, l.stems[0]!.file)).samples;
      };
      const c = stem('caller');
      const b = stem('other');
      assert.ok(tail(c, CALLER_HZ) > 0.6 && tail(c, CALLEE_HZ) < 0.05, 'the caller stem holds the caller only');
      assert.ok(tail(b, CALLEE_HZ) > 0.6 && tail(b, CALLER_HZ) < 0.05, 'the callee stem holds the callee only');
    });
  });
}
