// The contract between the mixer and what feeds it or listens to it (playback,
// recording): mono signed 16-bit PCM in frames of FRAME_MS at the room's rate.
export const FRAME_MS = 20;

/** Mono Int16 PCM, exactly samplesPerFrame(rate) samples long. */
export type PcmFrame = Int16Array;

export function samplesPerFrame(sampleRate: number): number {
  return (sampleRate * FRAME_MS) / 1000;
}

/** Something that produces audio, pulled once per 20 ms tick by the mixer (a prompt, a tone). */
export interface FrameSource {
  /** The rate of its frames (a Player's); absent: the room's rate when it was added. */
  readonly sampleRate?: number;
  /** The next frame, or null once the source has finished (it is then removed). */
  nextFrame(): PcmFrame | null;
  /** Stops early (barge-in, hang-up). Idempotent. */
  stop(): void;
  /**
   * Optional, for sources that report their end (a Player): a media thread pulls
   * frames ahead of when they are heard, so the source must report a natural end
   * only once `heard` resolves (the thread played its last frame), and call
   * `stoppedEarly` when it is stopped on its own thread (barge-in, stop()) so
   * that the buffered frames are dropped. Wrappers pass it through.
   */
  holdFinish?(heard: Promise<void>, stoppedEarly: () => void): void;
  /**
   * Optional: true while the source has no audio yet (a clip still loading; its
   * frames are silence meanwhile). A media thread's pump does not pull such a
   * source ahead, so its real audio is not queued behind buffered silence.
   */
  readonly pending?: boolean;
}

/**
 * What the mixer hands to a sink (a recorder) on every tick of a room's clock. The tick,
 * its map and its frames are valid only during writeTick: a media thread's drain reuses
 * them for the next tick, so a sink copies whatever it keeps.
 */
export interface MixTick {
  /** Milliseconds since the room's clock started: FRAME_MS × tick number, never wall time. */
  readonly timeMs: number;
  /** Everything every leg said this tick, plus room-wide prompts (what a silent observer hears). */
  readonly mix: PcmFrame;
  /** Each leg's own decoded input this tick (null when the leg sent nothing in time). */
  readonly legs: ReadonlyMap<string, PcmFrame | null>;
}

export interface TickSink {
  /** The rate it wants its frames at (a Recorder's); absent: the room's rate when it was added. */
  readonly sampleRate?: number;
  /**
   * True when writeTick copies what it keeps before it returns (a ring into
   * another thread): the room then hands it frames, a legs map and a tick
   * object that it reuses next tick. Absent or false: every tick is fresh, and
   * the sink may keep it.
   */
  readonly copiesFrames?: boolean;
  writeTick(tick: MixTick): void;
}
