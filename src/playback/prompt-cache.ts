// The transcode cache: every prompt that is not already 16-bit PCM at the room
// rate is converted once by ffmpeg and kept as `<sha256>-<rate>.wav`, keyed by
// the source's content (not its name) and the target rate; spoken text is kept
// as `tts-<sha256(voice, text)>-<rate>.wav`. Files appear by atomic rename, so
// a crash never leaves a half-written entry under a final name.
import { createHash } from 'node:crypto';
import { access, mkdir, rm, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/logger.ts';
import { sha256File } from '../util/sha256-file.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { PromptError } from './errors.ts';
import { FfmpegError, transcodeToWav } from './ffmpeg.ts';
import { speakToWav } from './tts.ts';

export interface CacheLookup {
  kind: 'file' | 'tts';
  key: string;
  path: string;
  hit: boolean;
}

export interface CacheResult {
  path: string;
  /** False for the call that ran ffmpeg or espeak-ng (and for plays that shared that run). */
  fromCache: boolean;
}

export type PromptCacheEvents = {
  /** Every lookup, hit or miss: what makes "the second play used the cache" observable. */
  lookup: [CacheLookup];
};

export interface PromptCacheStats {
  hits: number;
  misses: number;
  transcodes: number;
  ttsRuns: number;
}

let tmpCounter = 0;

export class PromptCache extends TypedEmitter<PromptCacheEvents> {
  readonly stats: PromptCacheStats = { hits: 0, misses: 0, transcodes: 0, ttsRuns: 0 };
  /** One production per key at a time: concurrent plays of a new prompt share it. */
  private readonly inFlight = new Map<string, Promise<CacheResult>>();
  private dirReady: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {
    super(log);
  }

  /** The cached mono 16-bit WAV of `source` at `sampleRate`, transcoding it on the first call. */
  async fileAtRate(source: string, sampleRate: number, promptName?: string): Promise<CacheResult> {
    const hash = await sha256File(source).catch((err: unknown) => {
      throw new PromptError('UNREADABLE', `prompt cannot be read: ${(err as Error).message}`, promptName, {
        cause: err,
      });
    });
    const key = `${hash}-${sampleRate}`;
    return this.lookup('file', key, async (tmp) => {
      this.stats.transcodes++;
      await transcodeToWav(source, tmp, sampleRate).catch((err: unknown) => {
        const detail = err instanceof FfmpegError ? `${err.message}\n${err.stderrTail}` : String(err);
        throw new PromptError('TRANSCODE', `prompt could not be transcoded: ${detail}`, promptName, { cause: err });
      });
    });
  }

  /** The cached speech for `text` in `voice` at `sampleRate`, running espeak-ng on the first call. */
  async speech(text: string, voice: string, sampleRate: number): Promise<CacheResult> {
    const hash = createHash('sha256').update('espeak-ng\0').update(voice).update('\0').update(text).digest('hex');
    const key = `tts-${hash}-${sampleRate}`;
    return this.lookup('tts', key, async (tmp) => {
      this.stats.ttsRuns++;
      const raw = `${tmp}.espeak.wav`;
      try {
        await speakToWav(text, voice, raw);
        await transcodeToWav(raw, tmp, sampleRate).catch((err: unknown) => {
          throw new PromptError('TTS', `speech could not be resampled: ${String(err)}`, undefined, { cause: err });
        });
      } finally {
        await rm(raw, { force: true });
      }
    });
  }

  private lookup(kind: CacheLookup['kind'], key: string, make: (tmp: string) => Promise<void>): Promise<CacheResult> {
    // Registered synchronously, before any await, so that concurrent first plays of
    // one prompt share one check and one transcode.
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const path = join(this.dir, `${key}.wav`);
    const p = (async () => {
      try {
        if (await exists(path)) {
          this.stats.hits++;
          this.safeEmit('lookup', { kind, key, path, hit: true });
          return { path, fromCache: true };
        }
        await this.produce(path, make);
        this.stats.misses++;
        this.safeEmit('lookup', { kind, key, path, hit: false });
        return { path, fromCache: false };
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, p);
    return p;
  }

  private async produce(path: string, make: (tmp: string) => Promise<void>): Promise<string> {
    this.dirReady ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.dirReady;
    const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}.wav`;
    try {
      await make(tmp);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.log.debug({ path }, 'prompt cached');
    return path;
  }
}



async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
