// RFC 4733 events Parley makes itself on a listener's stream: a digit the other party of a
// bridge sent as a SIP INFO (application/dtmf-relay, application/dtmf), for a listener that
// negotiated telephone-event (an SBC's "DTMF interworking"). One event per digit: a packet
// every 50 ms (RFC 4733 §2.5.1.2) with the duration so far, the last one marked end and sent
// three times (§2.5.1.4), volume 10 (−10 dBm0); digits queued behind one another, 50 ms apart.
// The timers run on the thread that owns the leg: no message crosses threads per packet.
// EventOut puts a listener's telephone-events on its stream: those relayed from the other
// party of a bridge (RtpOutput.relayEvent) and these; to a listener without telephone-event,
// it plays both as DTMF tones (inband-digits.ts).
import { DTMF_DIGITS } from '../dtmf/dtmf-event.ts';
import type { FrameSource } from './frames.ts';
import { EventTones, InbandDigits, type OpenDigit } from './inband-digits.ts';
import type { ParticipantMedia } from './participant-options.ts';
import type { RtpOutput } from './rtp-output.ts';

const PACKET_MS = 50;
const MIN_MS = 40;
const MAX_MS = 5000;
/** Digits waiting at most (a burst of INFOs beyond it is dropped). */
const MAX_QUEUED = 32;
/** The input SSRC of the events Parley makes (no RTP stream has it: never mapped onto a forwarded one). */
const MADE_SSRC = -2;

/** A digit's length as played: 40 ms to 5 s (100 ms for what is no number). */
function digitMs(ms: number): number {
  return Math.min(MAX_MS, Math.max(MIN_MS, Math.round(ms) || 100));
}

/** Sends one event payload (4 bytes) of the digit numbered `digitNo` (its packets share one timestamp on the stream). */
export type EventSend = (payload: Uint8Array, digitNo: number) => void;

export class DigitSender {
  private readonly queue: { event: number; ms: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private digits = 0;
  private closed = false;

  constructor(
    private readonly send: EventSend,
    /** The listener's telephone-event clock (its duration unit). */
    private readonly clock: () => number,
  ) {}

  /** Queues `digit` (0-9, *, #, A-D) for `ms` (40 ms to 5 s); false for anything else. */
  add(digit: string, ms: number): boolean {
    const event = DTMF_DIGITS.indexOf(digit.toUpperCase());
    if (this.closed || digit.length !== 1 || event < 0 || this.queue.length >= MAX_QUEUED) return false;
    this.queue.push({ event, ms: digitMs(ms) });
    if (this.timer === null) this.next();
    return true;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private next(): void {
    const d = this.queue.shift();
    if (!d || this.closed) {
      this.timer = null;
      return;
    }
    const digitNo = ++this.digits;
    let elapsed = 0;
    const packet = (): void => {
      elapsed = Math.min(elapsed + PACKET_MS, d.ms);
      const end = elapsed >= d.ms;
      const duration = Math.min(0xffff, Math.round((elapsed * this.clock()) / 1000));
      const payload = Uint8Array.of(d.event, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff);
      for (let i = 0; i < (end ? 3 : 1); i++) this.send(payload, digitNo);
      this.timer = setTimeout(end ? () => this.next() : packet, PACKET_MS);
    };
    packet();
  }
}

/**
 * A listener's digits out: telephone-events relayed from the other party of a bridge, and digits
 * Parley makes (made at the first); to a listener without telephone-event, both as DTMF tones
 * in its audio (InbandDigits, one private source of the listener's at a time).
 */
export class EventOut {
  private sender: DigitSender | null = null;
  private tones: InbandDigits | null = null;
  /** The relayed events played in-band (to a listener without telephone-event). */
  private eventTones: EventTones | null = null;

  constructor(
    private readonly output: RtpOutput,
    private readonly media: () => ParticipantMedia,
    /** Whether the listener wants audio now (open, not deaf, not holding). */
    private readonly live: () => boolean,
    /** Plays a source to this listener only (MixerParticipant.play), at the rate `rate()` gives. */
    private readonly play: (source: FrameSource) => void,
    private readonly rate: () => number,
  ) {}

  /**
   * A telephone-event packet of the leg relaying its digits to this listener, at `clock`: sent
   * when the listener negotiated telephone-event and wants audio now; at another clock (48 kHz
   * beside Opus, 8 kHz beside G.711) its duration is scaled to the listener's, in a copy (a
   * digit's few packets). False when not sent on the listener's stream. To a listener without
   * telephone-event, each event is played in-band from its first packet until its end (EventTones).
   */
  relay(clock: number, ssrc: number, seq: number, timestamp: number, payload: Uint8Array): boolean {
    const m = this.media();
    const pt = m.dtmfSendPt ?? null;
    if (!this.live() || payload.length < 4) return false;
    if (pt === null) {
      this.eventTones ??= new EventTones((digit, ms) => this.inband(digit, ms), (digit) => this.inbandBegin(digit));
      this.eventTones.packet(ssrc, timestamp, payload, clock);
      return false;
    }
    if (clock === m.dtmfClock) return this.output.relayEvent(ssrc, seq, timestamp, payload, pt);
    const scaled = Uint8Array.from(payload.subarray(0, 4));
    const duration = Math.min(0xffff, Math.round((((payload[2]! << 8) | payload[3]!) * m.dtmfClock) / clock));
    scaled[2] = duration >> 8;
    scaled[3] = duration & 0xff;
    return this.output.relayEvent(ssrc, seq, timestamp, scaled, pt);
  }

  /** `digit` as events for `ms` (DigitSender), or in-band when asked or to a listener without telephone-event; false when the digit is not one. */
  digit(digit: string, ms: number, inband = false): boolean {
    if (inband || (this.media().dtmfSendPt ?? null) === null) return this.inband(digit, ms);
    this.sender ??= new DigitSender((payload, n) => {
      const pt = this.media().dtmfSendPt ?? null;
      if (this.live() && pt !== null) this.output.relayEvent(MADE_SSRC, 0, n, payload, pt);
    }, () => this.media().dtmfClock);
    return this.sender.add(digit, ms);
  }

  /** `digit` played in the listener's audio for `ms` (40 ms to 5 s), behind those playing; false when not played. */
  private inband(digit: string, ms: number): boolean {
    return this.inbandSource((t) => t.add(digit, digitMs(ms))) !== null;
  }

  /** `digit`'s tone from now (behind those playing) until the function returned gives its length; null when not played. */
  private inbandBegin(digit: string): ((ms: number) => void) | null {
    let open: OpenDigit | null = null;
    const tones = this.inbandSource((t) => (open = t.begin(digit)) !== null);
    return tones && open ? (ms) => tones.end(open!, digitMs(ms)) : null;
  }

  /** The listener's tone source (the one playing, or a new one played once `queue` took a digit). */
  private inbandSource(queue: (tones: InbandDigits) => boolean): InbandDigits | null {
    if (!this.live()) return null;
    if (this.tones !== null && !this.tones.done) return queue(this.tones) ? this.tones : null;
    const tones = new InbandDigits(this.rate());
    if (!queue(tones)) return null;
    this.tones = tones;
    this.play(tones);
    return tones;
  }

  close(): void {
    this.sender?.close();
    this.eventTones?.close();
    this.tones?.stop();
  }
}
