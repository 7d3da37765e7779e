// The playback front door for call control: turns a PlaySpec (a prompt file, a
// text to speak, a tone) into a Clip at the room rate, and a Clip into a Player
// (a FrameSource the mixer pulls, for a room or for one leg). The library owns
// the players it made, so that close() stops every one of them.
import { stat } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { componentLogger, type Logger } from '../util/logger.ts';
import { PromptError } from './errors.ts';
import { Player, type Clip, type PlayerOptions } from './player.ts';
import { PromptCache } from './prompt-cache.ts';
import { PromptDirWatch } from './prompt-dir-watch.ts';
import { resolvePrompt } from './prompt-path.ts';
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
  /** The folders whose changes may change what `path` is (watched: PromptDirWatch). */
  dirs: string[];
  /** The watch generation it was last checked under (-1: a folder of it is not watched), and when (performance.now()). */
  checkedGen: number;
  checkedAt: number;
}

/** A clip trusted through the folder watch is still checked on disk this often (a change the watch cannot see: the folder swapped through a symlink above it). */
const RECHECK_MS = 5000;

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
  /** The folders of the kept clips: a clip is played again without a stat while nothing changed in them. */
  private readonly watch: PromptDirWatch;
  /** Kept clips checked on disk (a stat) before being played again (tests, benches). */
  clipChecks = 0;

  constructor(private readonly options: PromptLibraryOptions) {
    this.log = componentLogger(options.log, 'playback');
    this.voice = options.voice ?? 'en-us';
    this.cache = new PromptCache(options.cacheDir, this.log);
    this.watch = new PromptDirWatch(this.log);
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
      // Nothing changed in its folders since it was checked (their watch says so: it reads
      // the kernel's events within a turn or two of the event loop after a change).
      if (known.checkedGen === this.watch.generation && performance.now() - known.checkedAt < RECHECK_MS) return { ...known.clip, fromCache: true };
      const gen = this.watchedGeneration(known.dirs);
      this.clipChecks++;
      const st = await stat(known.path).catch(() => null);
      // The same file as when it was read (a prompt with another extension added since is found once this one changes).
      if (st && st.ino === known.ino && st.size === known.size && st.mtimeMs === known.mtimeMs) {
        known.checkedGen = gen;
        known.checkedAt = performance.now();
        return { ...known.clip, fromCache: true };
      }
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
    const { path, real, root, realRoot } = await resolvePrompt(this.options.dir, name);
    const dirs = [...foldersDown(root, dirname(path)), ...foldersDown(realRoot, dirname(real))];
    // Taken before the stat and the read: a file replaced meanwhile is checked again next time.
    const gen = this.watchedGeneration(dirs);
    const st = await stat(path).catch((err: unknown) => {
      throw new PromptError('UNREADABLE', `prompt '${name}' cannot be read: ${(err as Error).message}`, name, { cause: err });
    });
    const clip = await this.decodePrompt(name, path, sampleRate);
    return { path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, clip, dirs, checkedGen: gen, checkedAt: performance.now() };
  }

  /** The generation a check made now is valid under: -1 when a folder of `dirs` is not watched (checked at every play). */
  private watchedGeneration(dirs: readonly string[]): number {
    return this.watch.watchAll(dirs) ? this.watch.generation : -1;
  }

  private async decodePrompt(name: string, path: string, sampleRate: number): Promise<Clip> {
    let notWav: PromptError | null = null;
    if (path.toLowerCase().endsWith('.wav')) {
      const header = await readWav(path, true).catch((err: unknown) => {
        notWav = new PromptError('UNREADABLE', `prompt '${name}' is not a readable WAV: ${(err as Error).message}`, name, { cause: err });
        return null;
      });
      // 16-bit PCM at the room rate is used as is (downmixed here if stereo); anything
      // else goes through the cache once.
      if (header && isPlainPcm16(header) && header.sampleRate === sampleRate) {
        return { samples: await this.readMono(path, sampleRate, name), sampleRate, label: name, fromCache: false };
      }
    }
    // A .wav that is no RIFF WAV (an MP3 or an A-law file renamed, as prompt sets often come)
    // is given to ffmpeg, which goes by the content, not the name; when ffmpeg cannot read it
    // either, the WAV reader's error says best what is wrong with it.
    const cached = await this.cache.fileAtRate(path, sampleRate, name).catch((err: unknown) => {
      if (notWav) {
        this.log.warn({ prompt: name, err: (err as Error).message }, 'prompt named .wav is neither a WAV nor audio ffmpeg reads');
        throw notWav;
      }
      throw err;
    });
    if (notWav) this.log.warn({ prompt: name }, 'prompt named .wav is no WAV file; played as ffmpeg read it (rename it to its format)');
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
    this.watch.close();
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

/** `root` and every folder below it down to `dir` (folders a symlink in the path may be swapped in). */
function foldersDown(root: string, dir: string): string[] {
  const out = [root];
  const rel = relative(root, dir);
  if (rel === '') return out;
  let at = root;
  for (const part of rel.split(sep)) out.push((at = at + sep + part));
  return out;
}
