// A test sender's fixed 20 ms clock, as a phone's: frame n (1, 2, ...) is due at
// t0 + n·20 ms on the monotonic clock (performance.now), never "20 ms after the
// last one". A late timer (a loaded machine stalls the event loop for 60 ms or
// more) sends every frame that fell due at once: the stream keeps its rate, its
// sequence numbers and timestamps stay continuous and its audio has no gap or
// phase jump; the receiver sees a burst, as a phone's buffered audio arrives
// after a scheduler stall. A plain setInterval instead falls behind for good
// (Node does not catch up missed runs), so the receiver heard gaps that the
// checks then blamed on Parley.
//
// The catch-up is bounded: after a stall of more than `maxBacklog` frames (1 s)
// the backlog is dropped and the sender resumes with the newest frame, told how
// many it skipped (RtpPeer then jumps its RTP timestamp by them and keeps its
// sequence numbers continuous, as a real sender that lost audio would do).
import { performance } from 'node:perf_hooks';

export interface PacerStats {
  /** Frames sent (onFrame calls). */
  frames: number;
  /** Timer runs that sent more than one frame (a catch-up after a stall). */
  bursts: number;
  /** The most frames one timer run sent. */
  maxBurst: number;
  /** Frames never sent: the backlogs dropped after stalls over `maxBacklog` frames. */
  dropped: number;
}

export class FramePacer {
  readonly stats: PacerStats = { frames: 0, bursts: 0, maxBurst: 0, dropped: 0 };
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  /** Frames due so far that were sent (or dropped). */
  private n = 0;
  /** When the frame being sent (in onFrame) was due, on performance.now()'s clock. */
  private due = 0;

  /**
   * @param onFrame called once per frame; `skipped` is the number of frames dropped
   *   just before this one (0 but after a stall of over `maxBacklog` frames).
   */
  constructor(
    private readonly onFrame: (skipped: number) => void,
    readonly frameMs = 20,
    readonly maxBacklog = 50,
  ) {}

  /** In onFrame: when the frame it sends was due (its lateness is performance.now() minus this). */
  get dueMs(): number {
    return this.due;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Starts the clock: the first frame is due one frame from now. A running pacer is left as it is. */
  start(): void {
    if (this.timer) return;
    this.t0 = performance.now();
    this.n = 0;
    this.schedule();
  }

  /** Idempotent. start() again begins a new clock. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(this.fire, Math.max(0, this.t0 + (this.n + 1) * this.frameMs - performance.now()));
  }

  private readonly fire = (): void => {
    // Frames 1..due are due now (libuv may fire a fraction of a ms early: then none is).
    const due = Math.floor((performance.now() - this.t0) / this.frameMs);
    let backlog = due - this.n;
    let skipped = 0;
    if (backlog > this.maxBacklog) {
      skipped = backlog - 1;
      this.n += skipped;
      this.stats.dropped += skipped;
      backlog = 1;
    }
    if (backlog > 1) this.stats.bursts++;
    this.stats.maxBurst = Math.max(this.stats.maxBurst, backlog);
    const self = this.timer;
    for (let i = 0; i < backlog; i++) {
      this.n++;
      this.due = this.t0 + this.n * this.frameMs;
      this.stats.frames++;
      this.onFrame(i === 0 ? skipped : 0);
      if (this.timer !== self) return; // stopped (or restarted) from inside onFrame
    }
    this.schedule();
  };
}
