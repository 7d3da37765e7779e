// Real ffmpeg, sox and espeak-ng: prompts are transcoded once into the cache and
// what the player yields is checked as audio against the source.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CacheLookup } from '../../../src/playback/prompt-cache.ts';
import { PromptError } from '../../../src/playback/errors.ts';
import { PromptLibrary } from '../../../src/playback/prompt-library.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { bestCorrelation, detectDtmf, envelope, purity, readWavFile, rms } from '../../helpers/audio-analysis.ts';
import { concatFrames, pullAll } from '../../helpers/pull-frames.ts';
import { waitFor } from '../../helpers/wait.ts';

/** Loads `name` until it is a tone of `hz` (a change on disk is seen once the folder's watch reports it, within a few ms). */
async function playsTone(lib: PromptLibrary, name: string, hz: number): Promise<Int16Array> {
  return waitFor(`'${name}' to play ${hz} Hz`, async () => {
    const c = await lib.load({ prompt: name }, 16000);
    return purity(c.samples, 16000, hz) > 0.95 ? c.samples : undefined;
  });
}

const SPEECH = 'Welcome to Parley. This call may be recorded for quality and training purposes.';

describe('PromptLibrary with real ffmpeg and espeak-ng', () => {
  let root: string;
  let prompts: string;
  let lib: PromptLibrary;
  let sourceSpeech: Int16Array;
  let sourceRate: number;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'parley-playback-'));
    prompts = join(root, 'prompts');
    mkdirSync(prompts);
    const speechWav = join(root, 'speech-source.wav');
    execFileSync('espeak-ng', ['-v', 'en-us', '-w', speechWav, SPEECH]);
    execFileSync('ffmpeg', ['-loglevel', 'error', '-i', speechWav, '-b:a', '64k', join(prompts, 'welcome.mp3')]);
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', join(prompts, 'tone8k.wav'), 'synth', '1', 'sine', '440']);
    execFileSync('sox', ['-n', '-r', '16000', '-c', '2', '-b', '16', join(prompts, 'stereo16k.wav'), 'synth', '1', 'sine', '700']);
    const src = readWavFile(speechWav);
    sourceSpeech = src.samples;
    sourceRate = src.sampleRate;
    lib = new PromptLibrary({ dir: prompts, cacheDir: join(root, 'cache'), log: silentLogger() });
  });

  after(() => {
    lib.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('transcodes an mp3 once; the second play uses the decoded clip kept in memory; frames follow the source speech', async () => {
    const lookups: CacheLookup[] = [];
    lib.cache.on('lookup', (l) => lookups.push(l));
    for (const [i, rate] of [16000, 16000].entries()) {
      const p = lib.createPlayer({ prompt: 'welcome' }, { sampleRate: rate });
      const started = p.waitFor('started');
      const frames = await pullAll(p);
      assert.ok(frames.every((f) => f.length === 320));
      const pcm = concatFrames(frames);
      const r = bestCorrelation(envelope(sourceSpeech, sourceRate), envelope(pcm, rate), 10);
      assert.ok(r.r > 0.9, `envelope correlation ${r.r.toFixed(3)} at lag ${r.lag}`);
      const [info] = await started;
      assert.equal(info.fromCache, i === 1);
      assert.equal((await p.done).reason, 'done');
    }
    // The second play neither looks into the transcode cache nor reads a file.
    assert.deepEqual(lookups.map((l) => l.hit), [false]);
    assert.equal(lib.cache.stats.transcodes, 1);
    assert.equal(readdirSync(join(root, 'cache')).filter((f) => f.endsWith('.wav')).length, 1);
    // Another rate is another cache entry.
    const clip48 = await lib.load({ prompt: 'welcome.mp3' }, 48000);
    assert.equal(clip48.sampleRate, 48000);
    assert.equal(lib.cache.stats.transcodes, 2);
  });

  it('a WAV at another rate goes through the cache; a stereo WAV at the room rate is downmixed directly', async () => {
    const before8k = lib.cache.stats.transcodes;
    const up = await lib.load({ prompt: 'tone8k' }, 16000);
    assert.equal(lib.cache.stats.transcodes, before8k + 1);
    assert.ok(Math.abs(up.samples.length - 16000) < 200);
    assert.ok(purity(up.samples, 16000, 440, 1000, 14000) > 0.95);
    const st = await lib.load({ prompt: 'stereo16k' }, 16000);
    assert.equal(lib.cache.stats.transcodes, before8k + 1, 'no ffmpeg for PCM at the room rate');
    assert.equal(st.samples.length, 16000);
    assert.ok(purity(st.samples, 16000, 700) > 0.95);
  });

  it('speaks text with espeak-ng, speech-like, cached by text and voice', async () => {
    const text = 'For sales press 1. For support press 2.';
    const a = await lib.load({ text }, 16000);
    const runs = lib.cache.stats.ttsRuns;
    const b = await lib.load({ text }, 16000);
    assert.equal(lib.cache.stats.ttsRuns, runs, 'second load from the cache');
    assert.equal(b.fromCache, true);
    assert.equal(a.fromCache, false);
    assert.deepEqual(b.samples, a.samples);
    // Speech: seconds long, loud in places and near-silent between phrases.
    const env = envelope(a.samples, 16000);
    assert.ok(a.samples.length > 16000 * 1.5);
    const loud = env.filter((v) => v > 0.02).length / env.length;
    assert.ok(loud > 0.4 && loud < 0.97, `loud share ${loud}`);
    // And it is this text: the envelope matches espeak-ng's own rendering.
    const direct = join(root, 'direct.wav');
    execFileSync('espeak-ng', ['-v', 'en-us', '-w', direct, text]);
    const d = readWavFile(direct);
    assert.ok(bestCorrelation(envelope(d.samples, d.sampleRate), env, 5).r > 0.9);
    await lib.load({ text, voice: 'en-gb' }, 16000);
    assert.equal(lib.cache.stats.ttsRuns, runs + 1, 'another voice is another entry');
  });

  it('a missing or escaping prompt fails that play with a typed error; the next play works', async () => {
    for (const [name, code] of [
      ['no-such-prompt', 'NOT_FOUND'],
      ['../speech-source.wav', 'ESCAPE'],
      ['/etc/passwd', 'ESCAPE'],
    ] as const) {
      const p = lib.createPlayer({ prompt: name }, { sampleRate: 16000 });
      const [r] = await p.waitFor('finished');
      assert.equal(r.reason, 'error');
      assert.ok(r.error instanceof PromptError);
      assert.equal(r.error.code, code);
      assert.equal(p.nextFrame(), null);
    }
    await assert.rejects(lib.load({ text: '   ' }, 16000), (e: unknown) => e instanceof PromptError && e.code === 'TTS');
    const ok = await pullAll(lib.createPlayer({ tone: { kind: 'beep' } }, { sampleRate: 16000 }));
    assert.ok(rms(concatFrames(ok)) > 0.1);
  });

  it('a prompt file replaced on disk is read again; unchanged, the same decoded clip is used', async () => {
    const file = join(prompts, 'swap.wav');
    execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', file, 'synth', '0.5', 'sine', '440']);
    const a = await lib.load({ prompt: 'swap' }, 16000);
    const checks = lib.clipChecks;
    const b = await lib.load({ prompt: 'swap' }, 16000);
    assert.equal(b.samples, a.samples, 'the clip kept in memory');
    assert.equal(lib.clipChecks, checks, 'nothing changed in the watched folder: no stat before playing it again');
    assert.ok(purity(a.samples, 16000, 440) > 0.95);
    // Rewritten in place: the new file is played.
    execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', file, 'synth', '0.5', 'sine', '880']);
    await playsTone(lib, 'swap', 880);
    // Replaced by a rename over it (how deployments swap files atomically).
    execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', join(prompts, 'swap.tmp.wav'), 'synth', '0.5', 'sine', '660']);
    renameSync(join(prompts, 'swap.tmp.wav'), file);
    await playsTone(lib, 'swap', 660);
    rmSync(file);
    const gone = await waitFor('the removed prompt to fail', () => lib.load({ prompt: 'swap' }, 16000).then(() => undefined, (e: unknown) => e));
    assert.ok(gone instanceof PromptError && gone.code === 'NOT_FOUND');
  });

  it('a prompt in a symlinked subfolder: repointing the link plays the other set', async () => {
    for (const [set, hz] of [['set-a', 500], ['set-b', 1000]] as const) {
      mkdirSync(join(prompts, set));
      execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', join(prompts, set, 'hello.wav'), 'synth', '0.5', 'sine', String(hz)]);
    }
    symlinkSync('set-a', join(prompts, 'lang'));
    const a = await lib.load({ prompt: 'lang/hello' }, 16000);
    assert.ok(purity(a.samples, 16000, 500) > 0.95);
    const checks = lib.clipChecks;
    assert.equal((await lib.load({ prompt: 'lang/hello' }, 16000)).samples, a.samples);
    assert.equal(lib.clipChecks, checks, 'no stat while nothing changed');
    symlinkSync('set-b', join(prompts, 'lang.new'));
    renameSync(join(prompts, 'lang.new'), join(prompts, 'lang'));
    await playsTone(lib, 'lang/hello', 1000);
    // A change in the target folder itself (reached through the link) is seen too.
    execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', join(prompts, 'set-b', 'hello.wav'), 'synth', '0.5', 'sine', '1500']);
    await playsTone(lib, 'lang/hello', 1500);
  });

  it('a corrupt file fails its play (UNREADABLE or TRANSCODE), and concurrent first plays share one transcode', async () => {
    writeFileSync(join(prompts, 'bad.wav'), 'this is not a wav file at all');
    writeFileSync(join(prompts, 'bad.mp3'), Buffer.alloc(2000, 7));
    await assert.rejects(lib.load({ prompt: 'bad' }, 16000), (e: unknown) => e instanceof PromptError && e.code === 'UNREADABLE');
    await assert.rejects(lib.load({ prompt: 'bad.mp3' }, 16000), (e: unknown) => e instanceof PromptError && e.code === 'TRANSCODE');
    assert.ok(!readdirSync(join(root, 'cache')).some((f) => f.includes('.tmp')), 'no half-written cache entry is left');

    execFileSync('sox', ['-n', '-r', '22050', '-c', '1', '-b', '16', join(prompts, 'fresh.wav'), 'synth', '0.5', 'sine', '523']);
    const before = lib.cache.stats.transcodes;
    const clips = await Promise.all([1, 2, 3].map(() => lib.load({ prompt: 'fresh' }, 16000)));
    assert.equal(lib.cache.stats.transcodes, before + 1);
    assert.ok(clips.every((c) => c.samples.length === clips[0].samples.length && purity(c.samples, 16000, 523, 800, 6400) > 0.95));
  });

  it('an MP3 named .wav (a renamed prompt) plays what it holds, through ffmpeg; a .wav ffmpeg cannot read either stays UNREADABLE', async () => {
    const wav = join(root, 'renamed-source.wav');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', wav, 'synth', '1', 'sine', '440']);
    execFileSync('ffmpeg', ['-loglevel', 'error', '-i', wav, '-f', 'mp3', join(prompts, 'renamed.wav')]);
    for (const rate of [8000, 16000]) {
      const c = await lib.load({ prompt: 'renamed' }, rate);
      // About 1 s (an MP3 encoder pads a little at the ends), the 440 Hz tone throughout the middle.
      assert.ok(Math.abs(c.samples.length / rate - 1) < 0.1, `${rate} Hz: ${c.samples.length} samples`);
      assert.ok(purity(c.samples, rate, 440, rate * 0.1, rate * 0.8) > 0.95, `${rate} Hz: the 440 Hz tone`);
    }
    writeFileSync(join(prompts, 'junk.wav'), Buffer.alloc(3000, 0x5a));
    await assert.rejects(lib.load({ prompt: 'junk' }, 8000), (e: unknown) => e instanceof PromptError && e.code === 'UNREADABLE' && /not a readable WAV/.test(e.message));
  });

  it('a WAV whose header says 0 or 65535 channels fails its play UNREADABLE, naming the channels, instead of playing nothing', async () => {
    const good = join(root, 'channels-source.wav');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', good, 'synth', '1', 'sine', '440']);
    for (const channels of [0, 65535]) {
      const b = readFileSync(good);
      assert.equal(b.toString('ascii', 12, 16), 'fmt ', 'sox writes fmt first');
      b.writeUInt16LE(channels, 22);
      writeFileSync(join(prompts, `ch${channels}.wav`), b);
      await assert.rejects(lib.load({ prompt: `ch${channels}` }, 8000), (e: unknown) => e instanceof PromptError && e.code === 'UNREADABLE' && new RegExp(`${channels} channels`).test(e.message));
    }
    assert.ok(purity((await lib.load({ prompt: 'tone8k' }, 8000)).samples, 8000, 440) > 0.95, 'a good WAV still plays');
  });

  it('a DTMF tone prompt is read back as the right digits by Goertzel, frame by frame', async () => {
    const frames = await pullAll(lib.createPlayer({ tone: { kind: 'dtmf', digits: '90#', toneMs: 100, gapMs: 100 } }, { sampleRate: 48000 }));
    assert.equal(frames.length, 30);
    const pcm = concatFrames(frames);
    const digits = [0, 1, 2].map((i) => detectDtmf(pcm, 48000, i * 9600 + 480, 3840));
    assert.deepEqual(digits, ['9', '0', '#']);
  });

  it('barge-in stops a real prompt mid-play', async () => {
    const p = lib.createPlayer({ prompt: 'welcome' }, { sampleRate: 16000, bargeIn: true });
    while (p.playState === 'loading') await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 25; i++) assert.notEqual(p.nextFrame(), null);
    assert.equal(p.onDtmf('3'), true);
    assert.equal(p.nextFrame(), null);
    const [r] = await p.waitFor('finished');
    assert.equal(r.reason, 'bargein');
    assert.equal(r.framesPlayed, 25);
  });

  it('close() stops the players it made', async () => {
    const l2 = new PromptLibrary({ dir: prompts, cacheDir: join(root, 'cache'), log: silentLogger() });
    const p = l2.createPlayer({ tone: { kind: 'ringback' } }, { sampleRate: 16000, loop: true });
    assert.equal(l2.activePlayers, 1);
    l2.close();
    l2.close();
    assert.equal((await p.done).reason, 'stopped');
    await assert.rejects(l2.load({ prompt: 'welcome' }, 16000), (e: unknown) => e instanceof PromptError && e.code === 'CLOSED');
    const late = await l2.createPlayer({ prompt: 'welcome' }, { sampleRate: 16000 }).done;
    assert.equal(late.reason, 'error');
    assert.equal(late.error?.code, 'CLOSED');
  });
});
