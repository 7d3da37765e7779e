// What the caller of a bridge hears while it waits for the callee: ringback by
// default (440 + 480 Hz, 2 s on, 4 s off), the notice again, a prompt of the
// flow's choosing, or silence (the bridge step's `callerHears`). It plays to the
// caller's leg alone (never to the callee, never into the recording), in a loop,
// from the bridge's start while the caller already hears Parley (answered or in
// early media) until the parties are connected; it pauses while the callee's own
// early media is passed through.
import type { MediaLeg, MediaRoom } from '../media-plane/media-api.ts';
import type { Player } from '../playback/player.ts';
import type { Logger } from '../util/logger.ts';
import type { CallDeps } from './call-deps.ts';
import { describeSpec, toLibrarySpec } from './play-spec.ts';
import { promptRate } from './prompt-rate.ts';
import type { CallerHears, PlaySpec } from './ports.ts';

export const RINGBACK: PlaySpec = { tone: 'ringback' };
const PROMPT_GAP_MS = 1000;

/** The prompt `callerHears` names (`notice`: the whisper, else ringback), or null for silence. */
export function callerWaitSpec(hears: CallerHears, whisper: PlaySpec | undefined): PlaySpec | null {
  if (hears === 'silence') return null;
  if (hears === 'ringback') return RINGBACK;
  if (hears === 'notice') return whisper ?? RINGBACK;
  return hears;
}

export class CallerWaitAudio {
  private player: Player | null = null;
  private closed = false;

  constructor(
    private readonly room: MediaRoom,
    private readonly leg: MediaLeg,
    private readonly spec: PlaySpec | null,
    private readonly deps: CallDeps,
    private readonly log: Logger,
  ) {}

  /** Starts (or keeps) the waiting audio. Idempotent; nothing once closed. */
  start(): void {
    if (this.closed || this.player || !this.spec || this.leg.isClosed) return;
    const spec = this.spec;
    const player = this.deps.prompts.createPlayer(toLibrarySpec(spec), {
      sampleRate: promptRate(this.room, this.deps.settings),
      loop: true,
      // Ringback has its own cadence; a prompt said again and again gets a breath between.
      gapMs: spec.tone === 'ringback' ? 0 : PROMPT_GAP_MS,
      log: this.log,
    });
    this.player = player;
    player.done
      .then((r) => {
        if (r.reason === 'error') this.log.warn({ err: r.error, prompt: describeSpec(spec) }, 'caller wait audio failed; the caller hears silence');
        if (this.player === player) this.player = null;
      })
      .catch((err: unknown) => this.log.warn({ err }, 'caller wait audio'));
    this.leg.play(player);
    this.log.debug({ prompt: describeSpec(spec) }, 'caller waits with');
  }

  /** Stops it (the callee's early media is heard instead, or the parties are connected). */
  stop(): void {
    const p = this.player;
    this.player = null;
    p?.stop();
  }

  get playing(): boolean {
    return this.player !== null;
  }

  /** Stops it for good. Synchronous and idempotent. */
  close(): void {
    this.closed = true;
    this.stop();
  }
}
