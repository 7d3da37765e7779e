// The files a Recorder writes, each with its writer, none opened yet (the WAV writers are held:
// the Recorder releases them once the sidecar naming them is on disk, and they create them then): the mix, the stereo file (unless off), the per-leg stems (unless off) and
// the JSON sidecar; encrypted ones sealed with the recording's data key. The WAV headers are
// rewritten at most every HEADER_EVERY_MS of flushes.
import type { PcmSealer } from './encryption/pcm-sealer.ts';
import type { RecordingKeys } from './encryption/recording-encryption.ts';
import { pathInside } from './file-names.ts';
import { SidecarWriter } from './sidecar-writer.ts';
import { Stems } from './stems.ts';
import { WavFileWriter, type WavWriterHooks } from './wav-file-writer.ts';

/** How often a WAV's header is rewritten while it records (the sizes a kill -9 leaves). */
const HEADER_EVERY_MS = 500;

/** A writer's hooks (the sidecar's too: it reports without a kind, a write failure). */
export interface FileHooks {
  error: (err: Error, kind?: Parameters<Required<WavWriterHooks>['error']>[1]) => void;
  resumed: () => void;
}

export interface RecorderFiles {
  mix: WavFileWriter;
  stereo: WavFileWriter | null;
  stems: Stems;
  sidecar: SidecarWriter;
  /** The flush period (recording.flushIntervalMs, 20–1000 ms). */
  flushEveryMs: number;
}

export function recorderFiles(o: {
  dir: string;
  base: string;
  sampleRate: number;
  stereo: boolean;
  stems: boolean;
  flushIntervalMs: number | undefined;
  keys: RecordingKeys | null;
  hooks: (file: string) => FileHooks;
}): RecorderFiles {
  const path = (name: string): string => pathInside(o.dir, name);
  const sealer = (channels: number): PcmSealer | null => o.keys?.sealer(channels, o.sampleRate) ?? null;
  const flushEveryMs = Math.min(1000, Math.max(20, o.flushIntervalMs ?? 250));
  const headerEvery = Math.max(1, Math.round(HEADER_EVERY_MS / flushEveryMs));
  const wav = (name: string, channels: number): WavFileWriter => new WavFileWriter(path(name), o.sampleRate, channels, o.hooks(name), sealer(channels), headerEvery, true);
  return {
    mix: wav(`${o.base}.mix.wav`, 1),
    stereo: o.stereo ? wav(`${o.base}.stereo.wav`, 2) : null,
    sidecar: new SidecarWriter(path(`${o.base}.json`), o.hooks(`${o.base}.json`)),
    stems: new Stems({ enabled: o.stems, base: o.base, sampleRate: o.sampleRate, pathOf: path, hooks: o.hooks, sealer, headerEveryPasses: headerEvery }),
    flushEveryMs,
  };
}
