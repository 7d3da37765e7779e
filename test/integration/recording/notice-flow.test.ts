// The two halves together, wired from config the way call control would: the
// record-notice prompt is played to the room (its frames become the mix), the
// recorder notes when it started, and the recording holds the notice as audio.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';
import { FRAME_MS, type PcmFrame } from '../../../src/mixer/frames.ts';
import { createPromptLibrary } from '../../../src/playback/index.ts';
import { createRecordingService } from '../../../src/recording/index.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { bestCorrelation, envelope, readWavFile } from '../../helpers/audio-analysis.ts';

const tmp = mkdtempSync(join(tmpdir(), 'parley-notice-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('record-notice flow', () => {
  it('plays the notice into the room, marks it in the sidecar, and the mix holds it', async (ctx) => {
    const promptsDir = resolve(import.meta.dirname, '../../../prompts');
    const config = parseConfig(
      `prompts: { dir: ${JSON.stringify(promptsDir)}, cacheDir: ${JSON.stringify(join(tmp, 'cache'))} }\n` +
        `recording: { dir: ${JSON.stringify(join(tmp, 'rec'))}, postProcess: none }\n`,
    );
    const log = silentLogger();
    const prompts = createPromptLibrary(config.prompts, log);
    ctx.after(() => prompts.close());
    const recordings = createRecordingService(config.recording, log);
    ctx.after(() => recordings.close());
    const rate = config.media.mixer.sampleRate;
    const rec = recordings.createRecorder({ roomId: 'notice-demo', sampleRate: rate });
    rec.addLeg('caller', { uri: 'sip:alice@example.com', role: 'caller', callId: 'abc@host', originalTo: 'sip:bob@example.com' });

    const player = prompts.createPlayer({ prompt: 'record-notice' }, { sampleRate: rate });
    player.on('started', () => rec.markNotice('record-notice'));
    // A stand-in for the mixer: one pull per tick, the prompt is the room's mix.
    const silence = new Int16Array(rate / 50);
    let t = 0;
    let frame: PcmFrame | null;
    while (player.playState === 'loading') await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) rec.writeTick({ timeMs: (t++) * FRAME_MS, mix: silence, legs: new Map([['caller', null]]) });
    while ((frame = player.nextFrame()) !== null) {
      rec.writeTick({ timeMs: (t++) * FRAME_MS, mix: frame, legs: new Map([['caller', null]]) });
      if (t === 11) await new Promise((r) => setImmediate(r)); // let 'started' run, as between two mixer ticks
    }
    rec.close();
    const meta = await rec.finalized;
    assert.equal(meta.notices.length, 1);
    assert.equal(meta.notices[0].roomMs, 11 * FRAME_MS, 'noted at the end of the first notice frame (the recorder clock is per tick)');
    const mix = readWavFile(join(tmp, 'rec', meta.mix.file)).samples;
    const source = readWavFile(join(promptsDir, 'record-notice.wav')).samples;
    const c = bestCorrelation(envelope(source, 16000), envelope(mix, rate), 20);
    assert.ok(c.r > 0.99 && c.lag === 10, `r=${c.r} lag=${c.lag}`);
    prompts.close();
    recordings.close();
  });
});
