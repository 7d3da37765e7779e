// One leg as the mixer sees it: an input (jitter-feed.ts → jitter buffer → decoder → room
// frame, talk and DTMF detection) and an output (mix-minus for this listener
// → limiter → encoder → RTP with the listener's own SSRC). In a two-party call
// its input is also forwarded to the other leg as it arrives (relay). Created
// only by RoomMixer.createParticipant().
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import { CrossSourceRepeats } from '../dtmf/cross-source-repeats.ts';
import { GoertzelDetector } from '../dtmf/goertzel-detector.ts';
import { Rfc4733Receiver } from '../dtmf/rfc4733-receiver.ts';
import { EventOut } from './digit-sender.ts';
import type { CodecName } from './codecs/audio-codec.ts';
import { CODECS } from './codecs/audio-codec.ts';
import { InputPipeline, OutputPipeline } from './codecs/codec-pipeline.ts';
import type { FrameSource } from './frames.ts';
import { SourceAtRate } from './rate-adapters.ts';
import { JitterFeed } from './jitter-feed.ts';
import { LOST, seqDiff, type JitterBuffer, type JitterSlot } from './jitter-buffer.ts';
import { decodeTail, retuneFrames } from './leg-tails.ts';
import { OldCodecStream } from './old-codec-stream.ts';
import { newRtpView, parseRtp } from './rtp.ts';
import { decodeSlot } from './slot-decode.ts';
import { RtpOutput } from './rtp-output.ts';
import type { InbandDtmfMode, MixerParticipantEvents, ParticipantMedia, ParticipantOptions } from './participant-options.ts';
import { SoftLimiter } from './soft-limiter.ts';
import type { TwoPartyForwarder } from './two-party-forwarder.ts';
import { VoiceActivity } from './voice-activity.ts';

export type { InbandDtmfMode, MixerParticipantEvents, ParticipantMedia, ParticipantOptions } from './participant-options.ts';
export class MixerParticipant extends TypedEmitter<MixerParticipantEvents> {
  readonly id: string;
  /** Not heard by anyone. */
  muted = false;
  /** Hears nothing (silence is still sent, to keep the stream and NAT bindings alive). */
  deaf = false;
  /** Hears everyone, heard by no one, absent from the mix handed to recorders. */
  hidden = false;
  /** When set, only these participants hear this one (coach, whisper between legs). */
  audience: ReadonlySet<string> | null = null;
  /** False while the peer does not want our audio (hold): nothing is encoded or sent. */
  sending = true;
  /** False while the peer's audio must be ignored (hold, inactive). */
  receiving = true;
  /** performance.now() of the last RTP packet from this leg (or of creation). */
  lastRxMs = performance.now();

  /** This tick's decoded input at the room rate (valid when hasInput). */
  input: Int16Array;
  hasInput = false;
  /** Mix-minus accumulator and the limited frame sent to this listener. */
  acc: Int32Array;
  out: Int16Array;
  readonly privateSources: SourceAtRate[] = [];
  /** This listener's RTP stream, fed by the mix or by forwarding. */
  readonly output: RtpOutput;
  /** Telephone-events onto it: relayed from the other party of a bridge, or made from its SIP INFO digits. */
  private readonly eventOut: EventOut;
  /** Frames encoded for this listener (forwarding encodes none but the silence of sendSilence). */
  encoded = 0;
  /** Of those, silence sent while forwarding because the other leg paused. */
  silenceFilled = 0;
  /** @internal While the room forwards: where this leg's packets go as they arrive. */
  relay: TwoPartyForwarder | null = null;
  /** @internal Its forwarding ended: a packet too late for the switch may still go to the other leg (TwoPartyForwarder.late). */
  handedBack: TwoPartyForwarder | null = null;
  /** Who this leg's telephone-events (RFC 4733) go on to as they come (a bridge's other party: a caller keys through the callee's IVR), besides Parley; null: Parley only. */
  dtmfTo: string | null = null;
  /** @internal What the jitter buffer held at close, decoded, for the room's recorders (leg-tails.ts); `tailHeard`: forwarded as it came. Before the close: the old stream's frames at a codec change, played first, its late packets' after them (`oldStream`); `inputHeard`: this tick's input is one of the first `heardFrames` of them, which the listeners heard (recorders only: RoomMixer). */
  tail: Int16Array[] = [];
  tailHeard = false;
  inputHeard = false;
  private heardFrames = 0;
  private oldStream: OldCodecStream | null = null;
  /** A re-offer renumbered the codec (same codec, new payload type): the old number's packets still in flight are its audio too (-1: none). */
  private oldAudioPt = -1;
  /** Lost packets rebuilt from the next packet's Opus in-band FEC (mixed and recorded in their place). */
  opusRecovered = 0;

  private media: ParticipantMedia;
  /** The room clock's time at the last tick (pullInput), the RFC 4733 receiver's clock. */
  private tickMs = 0;
  private inPipe: InputPipeline;
  private outPipe: OutputPipeline;
  /** SSRC, framing onto the 20 ms grid, relay: the packets into the jitter buffer. */
  private readonly feed: JitterFeed;
  private readonly limiter = new SoftLimiter();
  private readonly vad = new VoiceActivity();
  private rfc4733: Rfc4733Receiver;
  private goertzel: GoertzelDetector | null = null;
  private readonly view = newRtpView();
  private readonly payload = new Uint8Array(1500);
  /** The input frame (sequence number, timestamp) played at room time `at` (-1: none yet). */
  private readonly played = { seq: 0, ts: 0, at: -1 };
  private concealed = false;
  private readonly repeats = new CrossSourceRepeats();
  private closed = false;
  private readonly log: Logger;
  private readonly opts: ParticipantOptions;

  /** @internal Use RoomMixer.createParticipant(). */
  constructor(
    opts: ParticipantOptions,
    private readonly onClose: (p: MixerParticipant) => void,
    private readonly onCodecChange: () => void = () => undefined,
    /** Another participant of the room, by id (dtmfTo). */
    private readonly peer: (id: string) => MixerParticipant | undefined = () => undefined,
    /** Whether a close keeps the buffered input (the room has recorders). */
    private readonly keepTail: () => boolean = () => false,
  ) {
    super(opts.log);
    this.opts = opts;
    this.id = opts.id;
    this.log = opts.log;
    this.media = opts.media;
    const n = opts.sampleRate / 50;
    this.input = new Int16Array(n);
    this.acc = new Int32Array(n);
    this.out = new Int16Array(n);
    this.inPipe = new InputPipeline(this.media.codec, opts.sampleRate);
    this.outPipe = new OutputPipeline(this.media.codec, opts.sampleRate, this.media.sendFec === true);
    this.feed = new JitterFeed(this, this.media, opts);
    this.output = new RtpOutput(opts.send, this.media.sendPt, this.media.sendSsrc, CODECS[this.media.codec].rtpClock, this.packetMs);
    const live = (): boolean => !this.closed && !this.deaf && this.sending;
    this.eventOut = new EventOut(this.output, () => this.media, live, (source) => this.play(source), () => this.opts.sampleRate);
    this.rfc4733 = new Rfc4733Receiver(this.media.dtmfClock, this.onDigit);
    this.configureInband();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get jitterStats(): JitterBuffer['stats'] {
    return this.feed.jitter.stats;
  }

  /** Whether the leg's jitter buffer is the deep record-only kind. */
  get recordOnly(): boolean {
    return this.feed.jitter.recordOnly;
  }

  /** Packets waiting in the jitter buffer. */
  get buffered(): number {
    return this.feed.jitter.depth;
  }

  /** @internal The room ends: what the jitter buffer holds plays out without waiting for its depth. */
  drainInput(): void {
    this.feed.drain();
  }

  get talking(): boolean {
    return this.vad.talking;
  }

  /** Packets of the other leg forwarded to this listener (two-party forwarding). */
  get forwarded(): number {
    return this.output.stats.forwarded;
  }

  get codec(): CodecName {
    return this.media.codec;
  }

  /** The packet length (ms) this listener gets: other than 20 when its peer asked (a=ptime), and then it is never forwarded to. */
  get packetMs(): number {
    return this.media.codec === 'opus' ? 20 : (this.media.sendPtime ?? 20);
  }

  /** Whether this leg's Opus comes in packets of other than 20 ms (split here): mixed, never forwarded (a 120 ms packet in six ticks looks paused; a listener may not take 10 ms). */
  get splitsPackets(): boolean {
    return this.feed.splitting;
  }

  /** Audio packets dropped as malformed (Opus packets that break RFC 6716 §3.4): never decoded, mixed or recorded. */
  get malformedPayloads(): number {
    return this.feed.malformed;
  }

  /** The SSRC of the leg's audio as it reaches the mixer, once one arrived. */
  get inputSsrc(): number | null {
    return this.feed.ssrc;
  }

  /** Whether this participant's input goes into the room mix. */
  get speaksToAll(): boolean {
    return !this.muted && !this.hidden && this.audience === null;
  }

  /** Changes codec or payload types (re-offer). The send SSRC may change too. */
  setMedia(media: ParticipantMedia): void {
    const old = this.media;
    const codecChanged = media.codec !== old.codec;
    const fecChanged = (media.sendFec === true) !== (old.sendFec === true);
    const dtmfClockChanged = media.dtmfClock !== old.dtmfClock;
    this.media = media;
    if (codecChanged && !this.closed) {
      // The old stream's buffered frames play first (pullInput): none lost; while forwarding the listener heard them (recorders only).
      this.feed.drain();
      this.tail.push(...decodeTail(this.feed.jitter, this.inPipe, this.input.length));
      this.tailHeard = this.relay !== null;
      this.heardFrames = this.tailHeard ? this.tail.length : 0;
      this.oldStream?.close();
      this.oldStream = new OldCodecStream(old.audioPt, old.codec, this.inPipe, this.feed.jitter.nextSeq, this.input.length);
    } else if (codecChanged) this.inPipe.close();
    this.oldAudioPt = !codecChanged && media.audioPt !== old.audioPt ? old.audioPt : -1;
    this.feed.setMedia(media);
    this.output.setMedia(media.sendPt, media.sendSsrc, CODECS[media.codec].rtpClock, this.packetMs);
    if (codecChanged) this.inPipe = new InputPipeline(media.codec, this.opts.sampleRate);
    if (codecChanged || fecChanged) {
      this.outPipe.close();
      this.outPipe = new OutputPipeline(media.codec, this.opts.sampleRate, media.sendFec === true);
    }
    // Kept across a re-offer that leaves its clock alone (a hold, a refresh): a new receiver would take the end
    // packets still coming for a digit reported (sent three times, RFC 4733 §2.5.1.4) for a new one.
    if (dtmfClockChanged) this.rfc4733 = new Rfc4733Receiver(media.dtmfClock, this.onDigit);
    this.configureInband();
    if (codecChanged) this.onCodecChange();
  }

  /** @internal The room changed rate (autoNarrowband), between two ticks: new buffers and pipelines at `rate`. Only G.711 legs live through a switch (a wideband leg is why a room is not narrowband): G.711 keeps no state, nothing but a resampler's history is lost. */
  setRoomRate(rate: number): void {
    if (rate === this.opts.sampleRate || this.closed) return;
    this.tail = retuneFrames(this.tail, this.opts.sampleRate, rate); // a codec change's old frames (why the rate changes) play on
    this.opts.sampleRate = rate;
    const n = rate / 50;
    this.input = new Int16Array(n);
    this.acc = new Int32Array(n);
    this.out = new Int16Array(n);
    this.hasInput = false;
    this.inPipe.close();
    this.outPipe.close();
    this.oldStream?.setRoomRate(rate);
    this.inPipe = new InputPipeline(this.media.codec, rate);
    this.outPipe = new OutputPipeline(this.media.codec, rate, this.media.sendFec === true);
    for (const s of this.privateSources) s.retune(rate);
    if (this.goertzel) this.goertzel = new GoertzelDetector(rate, this.onDigit);
  }

  setInbandDtmf(mode: InbandDtmfMode): void {
    this.opts.inbandDtmf = mode;
    this.configureInband();
  }

  /** Plays a source to this participant only (whisper, a prompt to one leg), resampled when its frames' rate (`rate`, else its sampleRate) is not the room's. */
  play(source: FrameSource, rate = source.sampleRate ?? this.opts.sampleRate): void {
    if (this.closed) throw new Error('participant is closed');
    this.privateSources.push(new SourceAtRate(source, rate, this.opts.sampleRate));
  }

  /** An RTP packet from this leg (called by the media plane's demultiplexer). */
  pushRtp(buf: Uint8Array, nowMs: number): void {
    if (this.closed || !this.receiving) return;
    const v = this.view;
    if (!parseRtp(buf, v)) return;
    this.lastRxMs = nowMs;
    this.feed.align(v, nowMs); // a new SSRC continues the last one's numbers (stream-splice.ts)
    // A plain view (Buffer.subarray builds a Buffer through its species constructor, twice the cost).
    const payload = new Uint8Array(buf.buffer, buf.byteOffset + v.payloadOffset, v.payloadEnd - v.payloadOffset);
    if (v.payloadType === this.media.dtmfPt) {
      // On the room's clock, as poll() (pullInput): with the arrival time a lost end never timed out.
      this.rfc4733.handle(v.ssrc, v.seq, v.timestamp, payload, this.tickMs);
      const to = this.dtmfTo === null ? undefined : this.peer(this.dtmfTo);
      if (!to?.takeEvent(this.media.dtmfClock, v.ssrc, v.seq, v.timestamp, payload)) this.feed.skipped(v);
      return;
    }
    if (v.payloadType !== this.media.audioPt && v.payloadType !== this.oldAudioPt) {
      if (this.oldStream?.pt === v.payloadType && payload.length === 0) this.feed.empty(v); // no keep-alive: an empty audio packet
      else if (this.oldStream?.pt !== v.payloadType || !this.oldStream.take(v.seq, payload, this.tail)) this.feed.skipped(v);
      return;
    }
    this.oldStream?.close(); // the new codec's first packet: the old one's time is over
    this.feed.push(v, payload, nowMs);
  }

  /** @internal A telephone-event packet of the leg relaying its digits to this one (dtmfTo), at `clock` (EventOut.relay). */
  takeEvent(clock: number, ssrc: number, seq: number, timestamp: number, payload: Uint8Array): boolean {
    return this.eventOut.relay(clock, ssrc, seq, timestamp, payload);
  }

  /** `digit` as RFC 4733 events on this listener's stream for `ms`, or as DTMF tones in its audio (`inband`, or without telephone-event: EventOut.digit). */
  sendDigit(digit: string, ms: number, inband = false): boolean {
    return this.eventOut.digit(digit, ms, inband);
  }

  /** @internal The input frame played in the tick at `tickMs` (a switch to forwarding lines the other leg's stream up with it), or null. */
  playedFrame(tickMs: number): { ssrc: number; seq: number; ts: number } | null {
    const ssrc = this.feed.ssrc;
    if (ssrc === null || this.played.at !== tickMs) return null;
    return { ssrc, seq: this.played.seq, ts: this.played.ts };
  }

  /** @internal Packets received but not yet played, next first (a switch to forwarding sends them on). */
  waitingSlots(): JitterSlot[] {
    return this.feed.jitter.waiting();
  }

  /** @internal Forwarding ended: the listener heard this leg up to input sequence number `seq`, so play resumes there; the frames before it are dropped. True when frame `seq` is still buffered: the next tick plays it (for recorders), not to the listener again. */
  dropHeard(seq: number): boolean {
    return this.feed.jitter.dropBefore(seq);
  }

  /** @internal Tick step 1: this tick's input frame; `waitForGap`: a missing frame with later ones here is waited for a tick (JitterBuffer.pop). */
  pullInput(timeMs: number, waitForGap = false): void {
    this.tickMs = timeMs;
    const jitter = this.feed.jitter;
    // A codec change's old stream first (setMedia), then the new buffer.
    this.oldStream?.tick();
    const carried = this.tail.length > 0 ? this.tail.shift()! : null;
    const slot = carried === null ? jitter.pop(waitForGap) : null;
    this.inputHeard = carried !== null && this.heardFrames > 0;
    if (this.inputHeard) this.heardFrames--;
    if (carried !== null) {
      this.input.set(carried);
      this.hasInput = true;
      this.concealed = false;
    } else if (slot === null) {
      // One late frame is concealed by repeating the last one at half level.
      if (this.hasInput && !this.concealed) {
        for (let i = 0; i < this.input.length; i++) this.input[i] >>= 1;
        this.concealed = true;
      } else {
        this.hasInput = false;
      }
    } else if (slot === LOST) {
      if (decodeSlot(this.inPipe, jitter, slot, this.input)) this.opusRecovered++;
      this.hasInput = true;
      this.concealed = false;
      // Its timestamp, from the last packet played: one frame per sequence number.
      const seq = (jitter.nextSeq - 1) & 0xffff;
      if (this.played.at >= 0) this.markPlayed(seq, this.played.ts + seqDiff(seq, this.played.seq) * (CODECS[this.media.codec].rtpClock / 50), timeMs);
    } else {
      decodeSlot(this.inPipe, jitter, slot, this.input);
      this.hasInput = true;
      this.concealed = false;
      this.markPlayed(slot.seq, slot.timestamp, timeMs);
    }
    if (this.vad.update(this.hasInput ? this.input : null, this.input.length)) {
      this.safeEmit('talk', this.vad.talking);
    }
    if (this.goertzel) this.goertzel.process(this.hasInput ? this.input : null);
    if ((timeMs / 20) % 10 === 0) this.rfc4733.poll(timeMs);
  }

  /** @internal Tick step 3: limit `mix` (minus `own`, when given), encode and send as the frame of the tick at room time `tickMs`. Nothing while the peer does not want audio; the stream's timestamps still follow room time, so the first packet after a hold has jumped by the time it lasted (RtpOutput). */
  sendMix(mix: Int32Array, own: Int16Array | null, tickMs: number): void {
    if (!this.sending) return;
    this.limiter.process(mix, this.out, this.out.length, own);
    const len = this.outPipe.encode(this.out, this.payload);
    this.encoded++;
    this.output.sendFrame(this.payload.subarray(0, len), tickMs);
  }

  /** @internal While forwarding, the other leg paused (silence suppression, a stall): this listener gets encoded silence for the tick, as a mixed room would send, so its stream goes on (a phone may hang up on a silent one). */
  sendSilence(tickMs: number): void {
    this.silenceFilled++;
    this.acc.fill(0);
    this.sendMix(this.acc, null, tickMs);
  }

  /** Removes this participant from its mixer. Synchronous, idempotent; emits 'close' once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.receiving && this.keepTail()) {
      this.feed.drain();
      this.tail.push(...decodeTail(this.feed.jitter, this.inPipe, this.input.length));
      this.tailHeard = this.relay !== null;
    }
    this.eventOut.close();
    for (const s of this.privateSources) s.stop();
    this.privateSources.length = 0;
    this.inPipe.close();
    this.outPipe.close();
    this.oldStream?.close();
    this.onClose(this);
    this.safeEmit('close');
    this.removeAllListeners();
  }

  private markPlayed(seq: number, ts: number, timeMs: number): void {
    this.played.seq = seq;
    this.played.ts = ts >>> 0;
    this.played.at = timeMs;
  }

  private configureInband(): void {
    const mode = this.opts.inbandDtmf ?? 'auto';
    const want = mode === 'on' || (mode === 'auto' && this.media.dtmfPt === null);
    if (want && !this.goertzel) this.goertzel = new GoertzelDetector(this.opts.sampleRate, this.onDigit);
    if (!want) this.goertzel = null;
  }

  private readonly onDigit = (e: DtmfEvent): void => {
    if (this.repeats.isRepeat(e)) return;
    this.log.debug({ digit: e.digit, durationMs: e.durationMs, source: e.source }, 'dtmf');
    this.safeEmit('dtmf', e);
  };
}
