// The playback front door for call control: turns a PlaySpec (a prompt file, a
// text to speak, a tone) into a Clip at the room rate, and a Clip into a Player
// (a FrameSource the mixer pulls, for a room or for one leg). The library owns
// the players it made, so that close() stops every one of them.
import { stat } from 'node:fs/promises';
import type { Logger } from '../util/logger.ts';
import { PromptError } from './errors.ts';
import { Player, type Clip, type PlayerOptions } from './player.ts';
import { PromptCache } from './prompt-cache.ts';
import { resolvePromptPath } from './prompt-path.ts';
import { renderTone, ToneError, type ToneSpec } from './tones.ts';
import { downmixToMono, isPlainPcm16, readWav } from './wav-read.ts';

export type PlaySpec =
  /** A file in the prompts folder, with or without extension (`menu-main`, `hold/music.mp3`). */
  | { prompt: string }
  /** Spoken by espeak-ng; voice defaults to the library's. */
  | { text: string; voice?: string }
  | { tone: ToneSpec };

export interface PromptLibraryOptions {
  /** Folder of prompt files (config prompts.dir). */
  dir: string;
  /** Transcode cache (config prompts.cacheDir). */
  cacheDir: string;
  /** espeak-ng voice for text prompts (config prompts.voice). */
  voice?: string;
  log: Logger;
}

/** A decoded prompt file and the stat of the file it was read from. */
interface CachedClip {
  path: string;
  ino: number;
  size: number;
  mtimeMs: number;
  clip: Clip;
}

/** At most this many samples of decoded prompt files are kept (32 MiB). */
const CLIP_CACHE_SAMPLES = 16 * 1024 * 1024;

export class PromptLibrary {
  readonly cache: PromptCache;
  private readonly players = new Set<Player>();
  private readonly voice: string;
  private readonly log: Logger;
  private closed = false;
  /** Rendered tones by spec and rate (ringback is rendered for every bridge otherwise); players only read them. */
  private readonly tones = new Map<string, Int16Array>();
  /**
   * Decoded prompt files by rate and name (a notice played on every call was resolved,
   * read and decoded every time): used while the file is the same one (inode, size,
   * mtime of a stat), else resolved and read again. Players only read the samples.
   */
  private readonly clips = new Map<string, CachedClip>();
  /** Samples held by `clips` (bounded by CLIP_CACHE_SAMPLES). */
  private clipSamples = 0;

  constructor(private readonly options: PromptLibraryOptions) {
    this.log = options.log.child({ component: 'playback' });
    this.voice = options.voice ?? 'en-us';
    this.cache = new PromptCache(options.cacheDir, this.log);
  }

  /** Loads a clip at `sampleRate`. Rejects with a PromptError only. */
  async load(spec: PlaySpec, sampleRate: number): Promise<Clip> {
    if (this.closed) throw new PromptError('CLOSED', 'prompt library is closed');
    if ('tone' in spec) {
      try {
        const key = `${sampleRate} ${JSON.stringify(spec.tone)}`;
        let samples = this.tones.get(key);
        if (!samples) {
          samples = renderTone(spec.tone, sampleRate);
          if (this.tones.size >= 64) this.tones.delete(this.tones.keys().next().value!);
          this.tones.set(key, samples);
        }
        return { samples, sampleRate, label: `tone:${spec.tone.kind}`, fromCache: false };
      } catch (err) {
        if (err instanceof ToneError) throw new PromptError('INVALID_NAME', err.message, `tone:${spec.tone.kind}`);
        throw err;
      }
    }
    if ('text' in spec) {
      const { path, fromCache } = await this.cache.speech(String(spec.text), spec.voice ?? this.voice, sampleRate);
      const samples = await this.readMono(path, sampleRate, 'tts');
      return { samples, sampleRate, label: `tts:${spec.text.slice(0, 40)}`, fromCache };
    }
    const key = `${sampleRate} ${spec.prompt}`;
    const known = this.clips.get(key);
    if (known) {
      const st = await stat(known.path).catch(() => null);
      // The same file as when it was read (a prompt with another extension added since is found once this one changes).
      if (st && st.ino === known.ino && st.size === known.size && st.mtimeMs === known.mtimeMs) return { ...known.clip, fromCache: true };
    }
    const loaded = await this.loadPrompt(spec.prompt, sampleRate);
    this.remember(key, loaded);
    return loaded.clip;
  }

  /** Keeps a decoded clip (the oldest go first; a clip longer than the cache's bound is not kept). */
  private remember(key: string, c: CachedClip): void {
    const old = this.clips.get(key);
    if (old) {
      this.clips.delete(key);
      this.clipSamples -= old.clip.samples.length;
    }
    if (c.clip.samples.length > CLIP_CACHE_SAMPLES / 4) return;
    while (this.clips.size > 0 && (this.clips.size >= 64 || this.clipSamples + c.clip.samples.length > CLIP_CACHE_SAMPLES)) {
      const [k, v] = this.clips.entries().next().value!;
      this.clips.delete(k);
      this.clipSamples -= v.clip.samples.length;
    }
    this.clips.set(key, c);
    this.clipSamples += c.clip.samples.length;
  }

  /** Resolves, reads and decodes a prompt file; with the stat it was read under (for the clip cache). */
  private async loadPrompt(name: string, sampleRate: number): Promise<CachedClip> {
    const path = await resolvePromptPath(this.options.dir, name);
    // Taken before the read: a file replaced meanwhile is read again next time.
    const st = await stat(path).catch((err: unknown) => {
      throw new PromptError('UNREADABLE', `prompt '${name}' cannot be read: ${(err as Error).message}`, name, { cause: err });
    });
    const clip = await this.decodePrompt(name, path, sampleRate);
    return { path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, clip };
  }

  private async decodePrompt(name: string, path: string, sampleRate: number): Promise<Clip> {
    if (path.toLowerCase().endsWith('.wav')) {
      const header = await readWav(path, true).catch((err: unknown) => {
        throw new PromptError('UNREADABLE', `prompt '${name}' is not a readable WAV: ${(err as Error).message}`, name, {
          cause: err,
        });
      });
      // 16-bit PCM at the room rate is used as is (downmixed here if stereo); anything
      // else goes through the cache once.
      if (isPlainPcm16(header) && header.sampleRate === sampleRate) {
        return { samples: await this.readMono(path, sampleRate, name), sampleRate, label: name, fromCache: false };
      }
    }
    const cached = await this.cache.fileAtRate(path, sampleRate, name);
    const samples = await this.readMono(cached.path, sampleRate, name);
    return { samples, sampleRate, label: name, fromCache: cached.fromCache };
  }

  /**
   * A Player for `spec` at the room rate, returned at once: it yields silence
   * while the clip loads, and finishes with reason 'error' if it cannot load.
   */
  createPlayer(spec: PlaySpec, options: PlayerOptions): Player {
    // Even on a closed library this returns a player (finishing with CLOSED): a play
    // fails through its own 'finished' event, never by throwing into call control.
    const player = new Player(this.load(spec, options.sampleRate), {
      log: this.log,
      ...options,
    });
    if (this.closed) return player;
    this.players.add(player);
    void player.done.then(() => this.players.delete(player));
    return player;
  }

  /** Players not yet finished. */
  get activePlayers(): number {
    return this.players.size;
  }

  /** Stops every player this library made; later loads fail with CLOSED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.players) p.stop();
    this.players.clear();
  }

  private async readMono(path: string, sampleRate: number, name: string): Promise<Int16Array> {
    try {
      const w = await readWav(path);
      if (!isPlainPcm16(w) || w.sampleRate !== sampleRate) {
        throw new Error(`expected 16-bit PCM at ${sampleRate} Hz, got ${w.bitDepth}-bit at ${w.sampleRate} Hz`);
      }
      return downmixToMono(w.samples, w.channels);
    } catch (err) {
      throw new PromptError('UNREADABLE', `prompt '${name}' cannot be read: ${(err as Error).message}`, name, {
        cause: err,
      });
    }
  }
}
