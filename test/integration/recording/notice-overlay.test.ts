// A notice played to one leg alone (leg.play) through Recorder.tapNotice: the
// mixer pulls the source after it fed the recorder, as RoomMixer does; the
// recorder writes each frame into the mix, that leg's stem and its stereo
// channel one tick later, marks the first one, never the other leg's files, and
// resamples a source whose rate is not the recording's.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FrameSource } from '../../../src/mixer/frames.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { channel, readWavFile, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-notice-overlay-'));
after(() => rmSync(root, { recursive: true, force: true }));

const NOTICE_HZ = 1500;

/** Amplitude of `hz` over [fromMs, toMs). */
function amp(x: Int16Array, rate: number, hz: number, fromMs: number, toMs: number): number {
  const s = Math.round((fromMs * rate) / 1000);
  return toneAmplitude(x, rate, hz, s, Math.round((toMs * rate) / 1000) - s);
}

describe('Recorder.tapNotice', () => {
  for (const sourceRate of [16000, 8000]) {
    it(`writes a private notice into the mix, its leg's stem and stereo channel (source ${sourceRate} Hz, recording 16 kHz)`, async (t) => {
      const rate = 16000;
      const svc = new RecordingService({ dir: join(root, `r${sourceRate}`), postProcess: 'none', log: silentLogger() });
      t.after(() => svc.close());
      const rec = svc.createRecorder({ roomId: 'room', sampleRate: rate });
      rec.addLeg('a', { role: 'caller' });
      rec.addLeg('b', {});
      const room = new ToneRoom(rate, 0.1);
      room.legs.set('a', 400).set('b', 700);
      room.feed(rec, 200);
      // 500 ms of notice to 'b' alone, pulled as the mixer pulls a leg's private source.
      const tone = new ToneSource(NOTICE_HZ, sourceRate, 25);
      const tapped: FrameSource = rec.tapNotice(Object.assign(tone, { sampleRate: sourceRate }), 'b', 'whisper');
      let pulled = 0;
      for (let t = 0; t < 40; t++) {
        rec.writeTick(room.next());
        if (tapped.nextFrame()) pulled++;
      }
      assert.equal(pulled, 25);
      rec.pause();
      const paused = new ToneSource(NOTICE_HZ, rate, 10);
      const tp = rec.tapNotice(Object.assign(paused, { sampleRate: rate }), 'a', 'while paused');
      for (let t = 0; t < 12; t++) {
        rec.writeTick(room.next());
        tp.nextFrame();
      }
      rec.resume();
      room.feed(rec, 200);
      rec.close();
      const meta = await rec.finalized;
      svc.close();
      // First frame pulled after the tick at 200 ms: written in the next one, at 220 ms.
      assert.deepEqual(
        meta.notices.map((n) => [n.prompt, n.leg, n.fileMs]),
        [
          ['whisper', 'b', 220],
          ['while paused', 'a', 1000],
        ],
      );
      const mix = readWavFile(join(root, `r${sourceRate}`, meta.mix.file)).samples;
      const stem = (id: string) => readWavFile(join(root, `r${sourceRate}`, meta.legs.find((l) => l.id === id)!.stems[0]!.file)).samples;
      const st = readWavFile(join(root, `r${sourceRate}`, meta.stereo!.file)).samples;
      const expect = 8000 / 32768;
      for (const [what, x] of [['mix', mix], ["b's stem", stem('b')], ['stereo right', channel(st, 2, 1)]] as const) {
        const a = amp(x, rate, NOTICE_HZ, 240, 700);
        assert.ok(Math.abs(a - expect) < 0.03, `${what}: notice amplitude ${a.toFixed(3)}, want ${expect.toFixed(3)}`);
        assert.ok(amp(x, rate, NOTICE_HZ, 0, 200) < 0.005, `${what}: nothing before`);
        assert.ok(amp(x, rate, NOTICE_HZ, 740, 1000) < 0.005, `${what}: nothing after it ended`);
      }
      assert.ok(amp(stem('b'), rate, 700, 240, 700) > 0.09, "b's own voice stays in its stem");
      for (const [what, x] of [["a's stem", stem('a')], ['stereo left', channel(st, 2, 0)]] as const) {
        assert.ok(amp(x, rate, NOTICE_HZ, 200, 1000) < 0.005, `${what}: the other party's notice is not there`);
      }
      // Paused (skip): the notice played meanwhile is not written, and nothing of it leaks after.
      assert.equal(mix.length, rate * 1.2, 'the paused ticks are not in the file');
      assert.ok(amp(mix, rate, NOTICE_HZ, 1000, 1200) < 0.005, 'no notice after the pause');
    });
  }
});
