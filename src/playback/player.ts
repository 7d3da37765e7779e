// A Player turns a clip (prompt, speech, tone) into a FrameSource for the mixer:
// exact 20 ms frames at the room rate, the last one zero-padded, repeats and
// loops, and barge-in on DTMF. The clip may still be loading when the mixer
// starts pulling: the player then yields silence so it keeps its place, and
// fails the play (reason 'error') if loading fails.
//
// Events are emitted on a microtask, never inside nextFrame(): a listener that
// starts the next prompt must not re-enter the mixer in the middle of its tick.
import { samplesPerFrame, type FrameSource, type PcmFrame } from '../mixer/frames.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { PromptError } from './errors.ts';

export interface Clip {
  /** Mono 16-bit samples at `sampleRate`. */
  samples: Int16Array;
  sampleRate: number;
  /** What it is, for logs: a prompt name, `tts:…`, `tone:…`. */
  label: string;
  /** True when it came out of the transcode cache without running ffmpeg or espeak-ng. */
  fromCache: boolean;
}

export type FinishReason = 'done' | 'stopped' | 'bargein' | 'error';

export interface PlayerResult {
  reason: FinishReason;
  /** Set when reason is 'error'. */
  error?: PromptError;
  /** The DTMF digit that stopped it, when reason is 'bargein'. */
  digit?: string;
  framesPlayed: number;
}

export type PlayerEvents = {
  started: [{ label: string; fromCache: boolean }];
  finished: [PlayerResult];
};

export interface PlayerOptions {
  sampleRate: number;
  /** How many times to play the clip (default 1); Infinity or `loop: true` plays until stopped. */
  repeat?: number;
  loop?: boolean;
  /** Silence between repeats, in ms (rounded to whole frames). */
  gapMs?: number;
  /** Stop on DTMF: true for any digit, or a string of the digits that barge in (e.g. '#'). */
  bargeIn?: boolean | string;
  log?: Logger;
}

type State = 'loading' | 'playing' | 'finished';

export class Player extends TypedEmitter<PlayerEvents> implements FrameSource {
  readonly sampleRate: number;
  readonly frameSamples: number;
  /** Resolves once, when the player finishes for any reason; never rejects. */
  readonly done: Promise<PlayerResult>;
  private state: State = 'loading';
  private clip: Clip | null = null;
  private pos = 0;
  private gapLeft = 0;
  private playsLeft: number;
  private framesPlayed = 0;
  private started = false;
  private readonly gapFrames: number;
  private readonly bargeIn: boolean | string;
  private resolveDone!: (r: PlayerResult) => void;
  /** Media threads: frames are pulled ahead of when they are heard; 'done' waits for this (the last frame was played). */
  private finishHold: Promise<void> | null = null;
  private stoppedEarly: (() => void) | null = null;
  private held = false;
  private readonly log: Logger | undefined;

  constructor(clip: Clip | Promise<Clip>, options: PlayerOptions) {
    super(options.log);
    this.log = options.log;
    this.sampleRate = options.sampleRate;
    this.frameSamples = samplesPerFrame(options.sampleRate);
    if (!Number.isInteger(this.frameSamples) || this.frameSamples <= 0) {
      throw new RangeError(`sample rate ${options.sampleRate} does not give whole 20 ms frames`);
    }
    const repeat = options.loop ? Infinity : (options.repeat ?? 1);
    if (!(repeat >= 1)) throw new RangeError(`repeat must be >= 1, got ${repeat}`);
    this.playsLeft = repeat;
    this.gapFrames = Math.round((options.gapMs ?? 0) / 20);
    this.bargeIn = options.bargeIn ?? false;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (clip instanceof Promise) {
      clip.then(
        (c) => this.loaded(c),
        (err: unknown) => this.finish({ reason: 'error', error: asPromptError(err) }),
      );
    } else {
      this.loaded(clip);
    }
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  /** True while the clip is loading (FrameSource.pending). */
  get pending(): boolean {
    return this.state === 'loading';
  }

  /** 'loading' until the clip is there (frames are silence meanwhile), then 'playing', then 'finished'. */
  get playState(): 'loading' | 'playing' | 'finished' {
    return this.state;
  }

  nextFrame(): PcmFrame | null {
    if (this.state === 'finished') return null;
    const n = this.frameSamples;
    if (this.state === 'loading') return new Int16Array(n);
    const clip = this.clip as Clip;
    if (this.gapLeft > 0) {
      this.gapLeft--;
      this.framesPlayed++;
      return new Int16Array(n);
    }
    if (!this.started) {
      this.started = true;
      this.emitLater('started', { label: clip.label, fromCache: clip.fromCache });
    }
    const src = clip.samples;
    // A fresh frame: the mixer may scale the frame in place, and the clip is shared.
    const frame = new Int16Array(n);
    frame.set(src.subarray(this.pos, Math.min(this.pos + n, src.length)));
    this.pos += n;
    this.framesPlayed++;
    if (this.pos >= src.length) {
      this.playsLeft--;
      if (this.playsLeft <= 0) {
        this.finish({ reason: 'done' });
      } else {
        this.pos = 0;
        this.gapLeft = this.gapFrames;
      }
    }
    return frame;
  }

  /** Idempotent; a stop after the end changes nothing. */
  stop(): void {
    this.finish({ reason: 'stopped' });
  }

  /** Whether onDtmf may still barge in (playing, or its last frames still being heard). */
  private get bargeable(): boolean {
    return this.state !== 'finished' || this.held;
  }

  /**
   * The player's frames are pulled ahead of when they are heard (a media
   * thread plays them from a ring): its 'done' waits until `until` resolves, so
   * a "play then X" sequence keeps its order and prompts never overlap. A
   * stop or barge-in meanwhile still finishes it at once.
   */
  holdFinish(heard: Promise<void>, stoppedEarly: () => void): void {
    this.finishHold = heard;
    this.stoppedEarly = stoppedEarly;
  }

  /**
   * Tells the player a DTMF digit arrived on the leg it plays to. Returns true when
   * it barged in (the player stopped); the caller still handles the digit itself.
   */
  onDtmf(digit: string): boolean {
    if (!this.bargeable || this.bargeIn === false) return false;
    if (typeof this.bargeIn === 'string' && !this.bargeIn.toUpperCase().includes(digit.toUpperCase())) return false;
    this.finish({ reason: 'bargein', digit });
    return true;
  }

  private loaded(clip: Clip): void {
    if (this.state !== 'loading') return; // stopped while loading
    if (clip.sampleRate !== this.sampleRate) {
      this.finish({
        reason: 'error',
        error: new PromptError('UNREADABLE', `clip is ${clip.sampleRate} Hz, player is ${this.sampleRate} Hz`),
      });
      return;
    }
    this.clip = clip;
    if (clip.samples.length === 0) {
      this.finish({ reason: 'done' });
      return;
    }
    this.state = 'playing';
  }

  private finish(r: Omit<PlayerResult, 'framesPlayed'>): void {
    if (this.state === 'finished') {
      // Stopped while its last frames were still being heard: it ends now, as stopped.
      if (this.held && r.reason !== 'done') {
        this.held = false;
        this.stoppedEarly?.();
        this.complete(r);
      }
      return;
    }
    this.state = 'finished';
    this.clip = null;
    if (r.reason !== 'done') this.stoppedEarly?.();
    const hold = this.finishHold;
    if (r.reason === 'done' && hold) {
      this.held = true;
      void hold.then(() => {
        if (!this.held) return;
        this.held = false;
        this.complete(r);
      });
      return;
    }
    this.complete(r);
  }

  private complete(r: Omit<PlayerResult, 'framesPlayed'>): void {
    const result: PlayerResult = { ...r, framesPlayed: this.framesPlayed };
    if (r.reason === 'error') this.log?.warn({ err: r.error }, 'prompt play failed');
    this.resolveDone(result);
    this.emitLater('finished', result);
  }

  private emitLater<K extends keyof PlayerEvents & string>(event: K, ...args: PlayerEvents[K]): void {
    queueMicrotask(() => this.safeEmit(event, ...args));
  }
}

function asPromptError(err: unknown): PromptError {
  if (err instanceof PromptError) return err;
  return new PromptError('UNREADABLE', err instanceof Error ? err.message : String(err), undefined, { cause: err });
}
