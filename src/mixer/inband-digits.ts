// Digits played as DTMF tones (in-band) to a listener that negotiated no telephone-event: a
// bridged party's RFC 4733 digits or SIP INFO digits, or the API's, reach a callee that only
// hears audio (an old gateway, a PBX or an IVR that took G.711 alone), as FreeSWITCH's and
// Asterisk's gateways do. Each digit is its two Q.23 frequencies at −13 dBFS peak each (0.22
// of full scale, as Parley's `dtmf:` tones; well inside G.711's range), with 5 ms
// raised-cosine ramps (no click), for its duration, then 50 ms of silence (a detector needs a
// pause between two equal digits); digits queue behind one another. A relayed RFC 4733 digit
// starts as its key is pressed (begin) and ends with its last event (end). It is one private source
// of the listener's (MixerParticipant.play): a two-party room mixes while it plays and
// forwards again after.
import { DTMF_DIGITS } from '../dtmf/dtmf-event.ts';
import { dtmfFrequencies } from '../dtmf/dtmf-keys.ts';
import { samplesPerFrame, type FrameSource, type PcmFrame } from './frames.ts';

const GAP_MS = 50;
const AMPLITUDE = 0.22 * 32767;
const RAMP_MS = 5;
/** Digits waiting at most (a burst beyond it is dropped). */
const MAX_QUEUED = 32;

interface Digit {
  /** Angular steps of its two frequencies per sample. */
  w1: number;
  w2: number;
  /** Samples of tone, then of tone and gap (while open: the longest a digit may last). */
  tone: number;
  total: number;
  /** Begun before its length was known (begin()); end() gives it. */
  open: boolean;
}

/** The longest tone (a key held that long, or one whose end never came). */
const MAX_TONE_MS = 5000;

/** A digit begun with begin(), for end(). */
export type OpenDigit = object;

export class InbandDigits implements FrameSource {
  private readonly queue: Digit[] = [];
  private readonly frame: Int16Array;
  private readonly ramp: number;
  /** Sample within the digit at the queue's head. */
  private at = 0;
  private finished = false;

  constructor(readonly sampleRate: number) {
    this.frame = new Int16Array(samplesPerFrame(sampleRate));
    this.ramp = Math.round((sampleRate * RAMP_MS) / 1000);
  }

  /** True once it has played its last digit (or was stopped): a new digit needs a new source. */
  get done(): boolean {
    return this.finished;
  }

  /** Queues `digit` (0-9, *, #, A-D) for `ms`; false when it is not one, the queue is full or the source is done. */
  add(digit: string, ms: number): boolean {
    return this.push(digit, ms, false) !== null;
  }

  /**
   * Queues `digit` before its length is known (a key still held: its RFC 4733 events are
   * still coming): its tone starts when its turn comes and lasts until end() says how long it
   * is (5 s at most). Null when it cannot be played (as add()).
   */
  begin(digit: string): OpenDigit | null {
    return this.push(digit, MAX_TONE_MS, true);
  }

  /** The digit begun lasts `ms` in all: it ends then, or at once (ramped) if it has played longer. */
  end(open: OpenDigit, ms: number): void {
    const d = open as Digit;
    if (!d.open) return;
    d.open = false;
    const played = this.queue[0] === d ? this.at : 0;
    d.tone = Math.min(d.tone, Math.max(this.samples(ms), played + this.ramp));
    d.total = d.tone + this.samples(GAP_MS);
  }

  private push(digit: string, ms: number, open: boolean): Digit | null {
    const f = dtmfFrequencies(digit);
    if (f === null || this.finished || this.queue.length >= MAX_QUEUED) return null;
    const tone = this.samples(ms);
    const rad = (2 * Math.PI) / this.sampleRate;
    const d = { w1: f[0] * rad, w2: f[1] * rad, tone, total: tone + this.samples(GAP_MS), open };
    this.queue.push(d);
    return d;
  }

  /** `ms` of tone in samples, at least both ramps. */
  private samples(ms: number): number {
    return Math.max(2 * this.ramp, Math.round((ms * this.sampleRate) / 1000));
  }

  nextFrame(): PcmFrame | null {
    if (this.finished || this.queue.length === 0) {
      this.finished = true;
      return null;
    }
    const out = this.frame;
    for (let i = 0; i < out.length; i++) {
      const d = this.queue[0];
      if (d === undefined) {
        out[i] = 0;
        continue;
      }
      const n = this.at;
      if (n < d.tone) {
        let g = AMPLITUDE;
        if (n < this.ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * n) / this.ramp);
        else if (n >= d.tone - this.ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * (d.tone - 1 - n)) / this.ramp);
        out[i] = Math.round(g * (Math.sin(d.w1 * n) + Math.sin(d.w2 * n)));
      } else out[i] = 0;
      if (++this.at >= d.total) {
        this.queue.shift();
        this.at = 0;
      }
    }
    return out;
  }

  stop(): void {
    this.finished = true;
    this.queue.length = 0;
  }
}

/** A relayed event with no packet for this long lost its end packets (all three): it is played as far as it went. */
const END_LOST_MS = 250;

/**
 * The RFC 4733 packets relayed to a listener without telephone-event, one digit per event
 * (its SSRC and timestamp) to play. With `begin`, a digit's tone starts at its event's first
 * packet (the key as it is pressed) and ends when its end packet says how long it was; without
 * it, or when only the end came, the digit is played at its (first) end packet for the event's
 * duration. An event whose end packets were all lost ends at the next event, or END_LOST_MS
 * after its last packet, as long as it went; its late or repeated packets play nothing more.
 */
export class EventTones {
  private played = { ssrc: -1, timestamp: -1 };
  private pending: { ssrc: number; timestamp: number; event: number; ms: number; end: ((ms: number) => void) | null } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly play: (digit: string, ms: number) => void,
    /** Starts a digit's tone now; the function returned ends it with its length (null: it could not start). */
    private readonly begin?: (digit: string) => ((ms: number) => void) | null,
  ) {}

  /** A telephone-event packet (its payload at least 4 bytes) of stream `ssrc`, its event at `timestamp`, at `clock`. */
  packet(ssrc: number, timestamp: number, payload: Uint8Array, clock: number): void {
    const event = payload[0]!;
    if (event >= DTMF_DIGITS.length || (ssrc === this.played.ssrc && timestamp === this.played.timestamp)) return;
    const ms = (((payload[2]! << 8) | payload[3]!) * 1000) / clock;
    const p = this.pending;
    if (p !== null && (p.ssrc !== ssrc || p.timestamp !== timestamp)) this.flush(); // a new event: the one before lost its end
    if ((payload[1]! & 0x80) !== 0) {
      const end = this.pending?.end ?? null;
      this.clear();
      this.played = { ssrc, timestamp };
      if (end) end(ms);
      else this.play(DTMF_DIGITS[event]!, ms);
    } else if (this.pending === null) {
      this.pending = { ssrc, timestamp, event, ms, end: this.begin?.(DTMF_DIGITS[event]!) ?? null };
      this.timer = setTimeout(() => this.flush(), END_LOST_MS);
      this.timer.unref();
    } else {
      this.pending.ms = Math.max(this.pending.ms, ms);
      this.timer?.refresh();
    }
  }

  close(): void {
    this.clear();
  }

  private flush(): void {
    const p = this.pending;
    this.clear();
    if (p === null) return;
    this.played = { ssrc: p.ssrc, timestamp: p.timestamp };
    if (p.end) p.end(p.ms);
    else this.play(DTMF_DIGITS[p.event]!, p.ms);
  }

  private clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }
}
