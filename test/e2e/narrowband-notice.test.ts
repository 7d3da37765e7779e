// A notice played into a narrowband call (a SIPp caller speaking PCMU, so its room
// mixes at 8 kHz) is made at 8 kHz once (prompt-rate.ts) and then runs through no
// resampler, on the media thread or the main thread (where the recording taps it):
// Parley's Resampler frame counters do not move during the call. Audio is checked
// as audio: a prompt of a 1 kHz then a 3 kHz tone (a 16 kHz WAV) is heard by the
// phone (its RTP decoded) and held by the 8 kHz recording (mix and the caller's
// stem) at the prompt's frequencies and level.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { purity, readWavFile, tone, toneAmplitude } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { readSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCaller } from './helpers.ts';

const TONES_HZ = [1000, 3000] as const;
const TONE_MS = 1200;
const AMPLITUDE = 8000;
/** The prompt's tone amplitude as a share of full scale (toneAmplitude's unit). */
const LEVEL = AMPLITUDE / 32768;

const flows = `
routing:
  rules:
    - name: notice
      match: { method: INVITE, media: audio }
      actions: [{ app: notice }]
flows:
  notice:
    - answer
    - record: { action: start }
    - play: { prompt: two-tones, notice: true }
    - hangup
`;

/** A mono 16-bit WAV of `samples` at `rate`. */
function wav(samples: Int16Array, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + samples.byteLength, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(samples.byteLength, 40);
  return Buffer.concat([h, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

/** 100 ms windows of an 8 kHz signal where `hz` is nearly all of it (a pure stretch of that tone). */
function toneWindows(pcm: Int16Array, hz: number): number[] {
  const w = 800;
  const at: number[] = [];
  for (let s = 0; s + w <= pcm.length; s += w) if (purity(pcm, 8000, hz, s, w) > 0.95) at.push(s);
  return at;
}

/** The tone's amplitude (share of full scale) over its pure windows: their median. */
function heardLevel(pcm: Int16Array, hz: number): { windows: number; level: number } {
  const at = toneWindows(pcm, hz);
  const levels = at.map((s) => toneAmplitude(pcm, 8000, hz, s, 800)).sort((a, b) => a - b);
  return { windows: at.length, level: levels[Math.floor(levels.length / 2)] ?? 0 };
}

function dB(x: number): number {
  return 20 * Math.log10(x);
}

/** Heard at the prompt's level (±1 dB: G.711 and the room add no gain), for at least ~80% of its length. */
function assertTones(pcm: Int16Array, who: string): void {
  for (const hz of TONES_HZ) {
    const { windows, level } = heardLevel(pcm, hz);
    assert.ok(windows >= (TONE_MS / 100) * 0.8, `${who}: ${hz} Hz pure in ${windows} windows of 100 ms`);
    assert.ok(Math.abs(dB(level / LEVEL)) < 1, `${who}: ${hz} Hz at ${dB(level).toFixed(2)} dBFS, the prompt's is ${dB(LEVEL).toFixed(2)}`);
  }
}

describe('a notice into a narrowband (PCMU) call', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-nb-notice-'));
  let parley: RunningParley;
  let heard: Int16Array;
  let meta: Sidecar;
  let resampled = { main: -1, threads: -1 };

  before(async () => {
    const prompts = join(dir, 'prompts');
    mkdirSync(prompts);
    const n = (16000 * TONE_MS) / 1000;
    const pcm = new Int16Array(2 * n);
    pcm.set(tone(TONES_HZ[0], 16000, n, AMPLITUDE), 0);
    pcm.set(tone(TONES_HZ[1], 16000, n, AMPLITUDE), n);
    writeFileSync(join(prompts, 'two-tones.wav'), wav(pcm, 16000));
    parley = await startParley(flows, { prompts, mediaThreads: 1 });
    const media = parley.app.media!;
    await media.nextStats();
    const before = media.resampledFrames;
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', 'sip:bob@127.0.0.1:5999');
    sippOk(await caller.done, 'caller');
    await ended;
    await waitFor('the final sidecar', () => readSidecars(parley.recordingDir).some((m) => m.state === 'finalized' || m.mix?.sha256));
    await media.nextStats();
    const now = media.resampledFrames;
    resampled = { main: now.main - before.main, threads: now.threads - before.threads };
    heard = caller.rtp.decoded();
    await caller.rtp.close();
    meta = readSidecars(parley.recordingDir)[0];
  });

  after(async () => {
    await parley?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs no resampler per frame, on the media thread or the main thread', () => {
    assert.deepEqual(resampled, { main: 0, threads: 0 });
  });

  it('the phone hears both tones at their frequency and level', () => {
    assert.ok(heard.length > 8000 * 2, `the caller received ${heard.length / 8000} s`);
    assertTones(heard, 'the phone');
  });

  it('the recording is written at 8 kHz and holds both tones, in the mix and in the caller stem', () => {
    assert.ok(meta, 'a sidecar');
    assert.ok(meta.notices.length >= 1, 'the notice is marked');
    const mix = readWavFile(join(parley.recordingDir, meta.mix.file));
    assert.equal(mix.sampleRate, 8000);
    assertTones(mix.samples, 'the mix');
    const caller = meta.legs.find((l: Sidecar) => l.role === 'caller');
    const stem = readWavFile(join(parley.recordingDir, caller.stems[0].file));
    assert.equal(stem.sampleRate, 8000);
    assertTones(stem.samples, 'the caller stem');
  });
});
