import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PromptError } from '../../../src/playback/errors.ts';
import { Player, type Clip, type PlayerResult } from '../../../src/playback/player.ts';
import { pullN } from '../../helpers/pull-frames.ts';

const RATE = 16000;
const N = 320;

function ramp(n: number): Clip {
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = (i % 1000) + 1;
  return { samples, sampleRate: RATE, label: 'ramp', fromCache: false };
}

function events(p: Player): { started: number; finished: PlayerResult[] } {
  const e = { started: 0, finished: [] as PlayerResult[] };
  p.on('started', () => e.started++);
  p.on('finished', (r) => e.finished.push(r));
  return e;
}

describe('Player', () => {
  it('yields exact 20 ms frames, zero-pads the last one, then null; finished(done) once', async () => {
    const p = new Player(ramp(700), { sampleRate: RATE });
    const e = events(p);
    const frames = pullN(p, 5);
    assert.deepEqual(frames.map((f) => f?.length ?? null), [N, N, N, null, null]);
    const last = frames[2] as Int16Array;
    assert.equal(last[59], 700); // sample 699
    assert.ok(last.subarray(60).every((v) => v === 0), 'padding is zeros');
    const r = await p.done;
    assert.equal(r.reason, 'done');
    assert.equal(r.framesPlayed, 3);
    await Promise.resolve();
    assert.equal(e.started, 1);
    assert.deepEqual(e.finished.map((x) => x.reason), ['done']);
  });

  it('hands out copies: writing into a frame does not change the next play', () => {
    const clip = ramp(N);
    const p = new Player(clip, { sampleRate: RATE, repeat: 2 });
    const f1 = p.nextFrame() as Int16Array;
    f1.fill(0);
    const f2 = p.nextFrame() as Int16Array;
    assert.equal(f2[5], 6);
  });

  it('stop() is idempotent and ends with reason stopped, once', async () => {
    const p = new Player(ramp(10 * N), { sampleRate: RATE });
    const e = events(p);
    p.nextFrame();
    p.stop();
    p.stop();
    assert.equal(p.nextFrame(), null);
    assert.equal((await p.done).reason, 'stopped');
    await Promise.resolve();
    assert.deepEqual(e.finished.map((x) => x.reason), ['stopped']);
  });

  it('repeats with a gap of silent frames, and loops until stopped', async () => {
    const p = new Player(ramp(N), { sampleRate: RATE, repeat: 3, gapMs: 40 });
    const frames = pullN(p, 9);
    const loud = frames.map((f) => (f === null ? 'x' : f.some((v) => v !== 0) ? 'A' : '.')).join('');
    assert.equal(loud, 'A..A..Axx');
    const loop = new Player(ramp(N), { sampleRate: RATE, loop: true });
    assert.ok(pullN(loop, 500).every((f) => f !== null));
    loop.stop();
    assert.equal((await loop.done).reason, 'stopped');
  });

  it('barges in on DTMF only when asked, and only on the listed digits', async () => {
    const plain = new Player(ramp(10 * N), { sampleRate: RATE });
    assert.equal(plain.onDtmf('1'), false);
    assert.notEqual(plain.nextFrame(), null);

    const hashOnly = new Player(ramp(10 * N), { sampleRate: RATE, bargeIn: '#' });
    const e = events(hashOnly);
    assert.equal(hashOnly.onDtmf('5'), false);
    assert.notEqual(hashOnly.nextFrame(), null);
    assert.equal(hashOnly.onDtmf('#'), true);
    assert.equal(hashOnly.nextFrame(), null);
    const r = await hashOnly.done;
    assert.equal(r.reason, 'bargein');
    assert.equal(r.digit, '#');
    assert.equal(hashOnly.onDtmf('#'), false, 'a finished player ignores digits');
    await Promise.resolve();
    assert.equal(e.finished.length, 1);
  });

  it('yields silence while the clip loads, then plays it', async () => {
    let resolve!: (c: Clip) => void;
    const p = new Player(new Promise<Clip>((r) => (resolve = r)), { sampleRate: RATE });
    const early = p.nextFrame() as Int16Array;
    assert.equal(early.length, N);
    assert.ok(early.every((v) => v === 0));
    assert.equal(p.playState, 'loading');
    resolve(ramp(N));
    await Promise.resolve();
    assert.equal(p.playState, 'playing');
    assert.equal((p.nextFrame() as Int16Array)[0], 1);
    assert.equal(p.nextFrame(), null);
  });

  it('a clip that fails to load finishes the play with reason error and the typed error', async () => {
    const p = new Player(Promise.reject(new PromptError('NOT_FOUND', 'nope', 'x')), { sampleRate: RATE });
    const r = await p.done;
    assert.equal(r.reason, 'error');
    assert.ok(r.error instanceof PromptError);
    assert.equal(r.error.code, 'NOT_FOUND');
    assert.equal(p.nextFrame(), null);
  });

  it('refuses a clip at another rate, and rates without whole frames', async () => {
    const p = new Player({ ...ramp(N), sampleRate: 8000 }, { sampleRate: RATE });
    assert.equal((await p.done).reason, 'error');
    assert.throws(() => new Player(ramp(N), { sampleRate: 11025 }), RangeError);
  });
});
