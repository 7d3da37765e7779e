// One room's mixer: every 20 ms of the room's clock it pulls each leg's input,
// sums the legs heard by everyone plus room-wide sources into an Int32 total,
// and gives each listener total minus its own voice, plus what only it hears
// (a coach, a whisper), through its own limiter and encoder. Recorders get the
// full mix and every leg's input per tick (TickSink). Transport-agnostic: RTP
// comes in through participant.pushRtp() and leaves through each one's send().
// With autoNarrowband the room mixes at 8 kHz while all its legs are G.711
// (nothing to resample: they are 8 kHz already), at sampleRate otherwise.
// A two-party call with nothing else playing is forwarded leg to leg instead
// of mixed (TwoPartyForwarder); the ticks still decode both legs for talk and
// DTMF detection and for recorders.
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { FRAME_MS, samplesPerFrame, type FrameSource, type PcmFrame, type TickSink } from './frames.ts';
import { MixClock, type ClockStats, type TickerLike } from './mix-clock.ts';
import { MixerParticipant, type InbandDtmfMode, type ParticipantMedia } from './mixer-participant.ts';
import { SourceAtRate } from './rate-adapters.ts';
import { RoomSinks } from './room-sinks.ts';
import { LegTails } from './leg-tails.ts';
import type { PacketSend } from './rtp-output.ts';
import { TwoPartyForwarder, type TwoPartyStats } from './two-party-forwarder.ts';

/** The rate of a narrowband room, and the codecs that keep a room narrowband (G.711: RFC 3551 §4.5.14). */
export const NARROWBAND_RATE = 8000;
export const NARROWBAND_CODECS: ReadonlySet<string> = new Set(['PCMU', 'PCMA']);

export interface RoomMixerOptions {
  /** The room's rate; with autoNarrowband, its rate while any leg is wideband. */
  sampleRate: number;
  /**
   * Mix at 8 kHz while every leg speaks G.711 (and while there is none), at
   * sampleRate otherwise. The switch happens at the start of a tick; 'rate'
   * reports it. Sources and sinks keep the rate they were registered at.
   */
  autoNarrowband?: boolean;
  jitterMinMs: number;
  jitterMaxMs: number;
  /** Forward two-party calls leg to leg when nothing else plays (default true; false always mixes). */
  forwardTwoParty?: boolean;
  /**
   * No timer: the owner calls runTick() every 20 ms (a media thread driving
   * all its rooms from one timer; tests and benchmarks driving it at once).
   */
  manualClock?: boolean;
  /** Unit tests: the room's clock on a ticker and a time of their own (default: the thread's ticker, performance.now()). */
  clock?: { ticker: TickerLike; now: () => number };
  log: Logger;
}

export type RoomMixerEvents = {
  /** The room now mixes at `sampleRate` (autoNarrowband only). */
  rate: [sampleRate: number];
  close: [];
};

export class RoomMixer extends TypedEmitter<RoomMixerEvents> {
  private rate: number;
  private samples: number;
  private readonly participants = new Map<string, MixerParticipant>();
  /** Same participants as an array, rebuilt on change, iterated on every tick. */
  private list: MixerParticipant[] = [];
  private readonly roomSources: SourceAtRate[] = [];
  private readonly sinks: RoomSinks;
  private total: Int32Array;
  /** Rate to switch to at the next tick (autoNarrowband), or null. */
  private pendingRate: number | null = null;
  private readonly clock: MixClock;
  private readonly forwarder: TwoPartyForwarder;
  /** Legs that left with input still buffered, played to the next ticks (leg-tails.ts). */
  private readonly tails = new LegTails();
  private manualTicks = 0;
  /** Room time of the last tick run (flushRecordOnly goes on from it). */
  private lastTickMs = -FRAME_MS;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly opts: RoomMixerOptions) {
    super(opts.log);
    this.log = opts.log;
    this.rate = opts.autoNarrowband ? NARROWBAND_RATE : opts.sampleRate;
    this.samples = samplesPerFrame(this.rate);
    this.total = new Int32Array(this.frameSamples);
    this.sinks = new RoomSinks(this.log);
    this.clock = new MixClock(this.tick, opts.clock?.ticker, opts.clock?.now);
    this.forwarder = new TwoPartyForwarder(this.clock);
    // Packets arriving after skipped ticks belong to the tick after them (a forwarded leg is no pause for the ticks skipped).
    this.clock.onSkip = (timeMs) => {
      this.forwarder.tickMs = timeMs;
    };
  }

  /** The rate the room mixes at now (what a new prompt or recorder should use). */
  get sampleRate(): number {
    return this.rate;
  }

  get frameSamples(): number {
    return this.samples;
  }

  get clockStats(): ClockStats {
    return this.clock.stats;
  }

  /** Whether the room mixes or forwards now, and how much it forwarded. */
  get stats(): Readonly<TwoPartyStats> {
    return this.forwarder.stats;
  }

  get size(): number {
    return this.participants.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  participant(id: string): MixerParticipant | undefined {
    return this.participants.get(id);
  }

  /** `recordOnlyMs`: a leg nobody hears live gets a deep jitter buffer of that depth (MixerParticipant). */
  createParticipant(id: string, media: ParticipantMedia, send: PacketSend, inbandDtmf: InbandDtmfMode = 'auto', recordOnlyMs: number | null = null): MixerParticipant {
    if (this.closed) throw new Error('mixer is closed');
    if (this.participants.has(id)) throw new Error(`participant ${id} exists`);
    const p = new MixerParticipant(
      {
        id,
        media,
        sampleRate: this.sampleRate,
        jitterMinMs: this.opts.jitterMinMs,
        jitterMaxMs: this.opts.jitterMaxMs,
        inbandDtmf,
        recordOnlyMs,
        send,
        log: this.log.child({ leg: id }),
      },
      this.participantClosed,
      this.legsChanged,
      (other) => this.participants.get(other),
      () => this.sinks.size > 0 && !this.closed,
    );
    // A record-only leg's buffer is only drained by ticks: after a stall the room catches up on all of them it can hold.
    if (recordOnlyMs !== null) this.clock.maxCatchUp = Math.max(this.clock.maxCatchUp, Math.ceil(recordOnlyMs / FRAME_MS));
    this.participants.set(id, p);
    this.list = [...this.participants.values()];
    this.legsChanged();
    this.startClock();
    return p;
  }

  /**
   * Plays a source to the whole room (every listener hears it, recorders too),
   * resampled when its frames' rate (`rate`, else its sampleRate) is not the room's.
   */
  play(source: FrameSource, rate = source.sampleRate ?? this.sampleRate): void {
    if (this.closed) throw new Error('mixer is closed');
    this.roomSources.push(new SourceAtRate(source, rate, this.sampleRate));
    this.startClock();
  }

  /** Feeds `sink` every tick at `rate` (else its sampleRate, else the room's rate now), whatever the room's rate becomes. */
  addSink(sink: TickSink, rate = sink.sampleRate ?? this.sampleRate): void {
    if (this.closed) throw new Error('mixer is closed');
    this.sinks.add(sink, rate, this.sampleRate);
    this.startClock();
  }

  removeSink(sink: TickSink): void {
    this.sinks.remove(sink);
  }

  /** Runs the next tick now (manualClock only): room time advances 20 ms per call. */
  runTick(): void {
    if (!this.opts.manualClock) throw new Error('runTick() needs manualClock');
    if (this.closed) return;
    this.tick(this.manualTicks++ * FRAME_MS);
  }

  /**
   * The room is ending: stops the clock and runs at once, for its recorders only (no
   * leg is sent anything), the ticks that play out what every leg's jitter buffer
   * still holds (a live leg's last 20–100 ms, a record-only leg's last second or so)
   * and the tails of legs that left (leg-tails.ts). At most `maxTicks` (call again
   * for the rest); returns the ticks run.
   */
  playOut(maxTicks = Infinity): number {
    if (this.closed) return 0;
    let deep = this.tails.size;
    for (const p of this.list) {
      p.drainInput();
      deep = Math.max(deep, p.buffered);
    }
    if (deep === 0) return 0;
    this.clock.stop();
    // Each tick plays one packet per leg, or the silence of a timestamp gap (DTX) between
    // two of them: at most the buffer's span; 10 s bounds it.
    const limit = Math.min(maxTicks, 500);
    let n = 0;
    while (n < limit && (this.tails.size > 0 || this.list.some((p) => p.buffered > 0))) {
      this.lastTickMs += FRAME_MS;
      this.recordTick(this.lastTickMs);
      n++;
    }
    return n;
  }

  /** A tick for the recorders alone (playOut): the legs' input and tails, mixed, to the sinks. */
  private recordTick(timeMs: number): void {
    const total = this.total;
    total.fill(0);
    for (const p of this.list) p.pullInput(timeMs);
    this.addInputs(total);
    this.tails.mix(total, 1);
    if (this.sinks.size > 0) this.sinks.feed(timeMs, this.total, this.frameSamples, this.list, this.tails);
    this.tails.advance();
  }

  /** Adds this tick's input of every leg heard by all to `total`. */
  private addInputs(total: Int32Array): void {
    const n = this.frameSamples;
    for (const p of this.list) {
      if (!p.hasInput || !p.speaksToAll) continue;
      const x = p.input;
      for (let k = 0; k < n; k++) total[k] += x[k];
    }
  }

  /** Stops the clock, closes every participant, stops every source. Idempotent; emits 'close' once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.stop();
    this.forwarder.stop();
    for (const p of [...this.participants.values()]) p.close();
    for (const s of this.roomSources) s.stop();
    this.roomSources.length = 0;
    this.sinks.clear();
    this.tails.clear();
    this.safeEmit('close');
    this.removeAllListeners();
  }

  private readonly participantClosed = (p: MixerParticipant): void => {
    if (p.relay) this.forwarder.stop();
    this.tails.add(p.id, p.tail, p.speaksToAll, p.tailHeard);
    p.tail = [];
    this.participants.delete(p.id);
    this.list = [...this.participants.values()];
    this.legsChanged();
  };

  /** A leg joined, left or changed codec: with autoNarrowband, the rate to mix at from the next tick. */
  private readonly legsChanged = (): void => {
    // A third leg, or a codec change, under a forwarded call: nothing more goes leg to leg.
    if (this.forwarder.active && !TwoPartyForwarder.eligible(this.list, this.roomSources.length)) this.forwarder.stop();
    if (!this.opts.autoNarrowband || this.closed) return;
    let narrow = true;
    for (const p of this.participants.values()) if (!NARROWBAND_CODECS.has(p.codec)) narrow = false;
    const rate = narrow ? NARROWBAND_RATE : this.opts.sampleRate;
    this.pendingRate = rate === this.sampleRate ? null : rate;
  };

  private startClock(): void {
    if (!this.opts.manualClock) this.clock.start();
  }

  /** Switches every buffer, leg, source and sink to `rate` (between ticks). */
  private retune(rate: number): void {
    this.rate = rate;
    this.samples = samplesPerFrame(rate);
    this.tails.clear();
    this.total = new Int32Array(this.frameSamples);
    for (const p of this.participants.values()) p.setRoomRate(rate);
    for (const s of this.roomSources) s.retune(rate);
    this.sinks.retune(rate);
    this.log.info({ sampleRate: rate }, 'room rate changed');
    this.safeEmit('rate', rate);
  }

  /** `p`'s input this tick is old audio its listeners heard forwarded (a codec change's: MixerParticipant.inputHeard): recorders had it, the listeners' mix does not. */
  private takeHeard(p: MixerParticipant, total: Int32Array): void {
    if (p.speaksToAll) for (let k = 0; k < total.length; k++) total[k] -= p.input[k];
    p.hasInput = false;
  }

  /** Adds one frame of each source into acc; drops finished sources. */
  private pullSources(sources: SourceAtRate[], acc: Int32Array): void {
    for (let i = 0; i < sources.length; i++) {
      let frame: PcmFrame | null;
      try {
        frame = sources[i].nextFrame();
      } catch (err) {
        this.log.error({ err }, 'frame source threw; removed');
        frame = null;
      }
      if (!frame) {
        sources.splice(i--, 1);
        continue;
      }
      const n = Math.min(frame.length, acc.length);
      for (let k = 0; k < n; k++) acc[k] += frame[k];
    }
  }

  /** `runStartMs`: the first tick of this run of ticks (earlier than `timeMs` in a catch-up after a stall). */
  private readonly tick = (timeMs: number, runStartMs = timeMs): void => {
    this.lastTickMs = timeMs;
    // (A leg's tail plays at the rate it was decoded at: a switch waits for it.)
    if (this.pendingRate !== null && this.tails.size === 0) {
      const rate = this.pendingRate;
      this.pendingRate = null;
      this.retune(rate);
    }
    const list = this.list;
    const fw = this.forwarder;
    fw.tickMs = timeMs;
    // Something else plays now (a prompt, a whisper, a role, a third leg): back to mixing.
    if (fw.active && !TwoPartyForwarder.eligible(list, this.roomSources.length + this.tails.size)) fw.stop();
    const served = fw.handBack(timeMs);
    const total = this.total;
    const n = this.frameSamples;
    total.fill(0);
    for (const p of list) p.pullInput(timeMs, fw.waitsFor(p));
    // After a hand-back, a listener whose mix waits for the other leg's late packets gets nothing now (TwoPartyForwarder.slips).
    const slipped = fw.slips(timeMs, served);
    // Legs that got this tick's frame forwarded get nothing now; prompts wait a tick so they hear them from the first frame.
    if (this.roomSources.length > 0 && served === null && slipped === null) this.pullSources(this.roomSources, total);
    this.addInputs(total);
    if (this.tails.size > 0) this.tails.mix(total, 1);
    if (this.sinks.size > 0) this.sinks.feed(timeMs, this.total, this.frameSamples, this.list, this.tails);
    for (const p of list) if (p.inputHeard && p.hasInput) this.takeHeard(p, total);
    if (this.tails.size > 0) {
      // Listeners do not hear again what was forwarded to them as it came.
      this.tails.mix(total, -1, true);
      this.tails.advance();
    }
    if (fw.active) {
      // The two legs get each other's packets as they arrive: nothing to mix or
      // encode, unless one paused (the other then gets silence meanwhile). In a
      // catch-up the packets of the stall may wait unread (a stall between I/O
      // passes: the timers run first): an input live at the first tick of the run
      // is no pause, its packets come late (not silence and then them too); one
      // still silent by the next tick's is filled then. Read before the catch-up
      // (a stall in an I/O callback: the sockets come first), they count as
      // arriving after the ticks due when they were read (TwoPartyForwarder.packet).
      fw.stats.forwardTicks++;
      for (const p of list) if (p.output.pausedAt(runStartMs)) p.sendSilence(timeMs);
      return;
    }
    // Directed speech (coach, whisper between legs) this tick? Without it, and
    // without a private source, a listener's mix is total − own input, which the
    // limiter computes in its single pass.
    let directed = false;
    for (const q of list) if (q.hasInput && !q.muted && q.audience !== null) directed = true;
    for (const p of list) {
      if ((served !== null && served.includes(p)) || (slipped !== null && slipped.includes(p))) continue;
      if (!p.sending) {
        // Nothing goes to a leg on hold or send-only, but its own prompts run on in
        // time: a notice to a held caller ends when it would have, and the flow goes on.
        // (Its RTP timestamps follow room time too: RtpOutput.)
        if (p.privateSources.length > 0) {
          p.acc.fill(0);
          this.pullSources(p.privateSources, p.acc);
        }
        continue;
      }
      const own = p.hasInput && p.speaksToAll ? p.input : null;
      if (!p.deaf && !directed && p.privateSources.length === 0) {
        p.sendMix(total, own, timeMs);
        continue;
      }
      const acc = p.acc;
      if (p.deaf) {
        acc.fill(0);
      } else {
        acc.set(total);
        if (own) for (let k = 0; k < n; k++) acc[k] -= own[k];
        for (const q of list) {
          // Coach / directed speech: q is heard only by its audience.
          if (q === p || !q.hasInput || q.muted || q.audience === null || !q.audience.has(p.id)) continue;
          const x = q.input;
          for (let k = 0; k < n; k++) acc[k] += x[k];
        }
        if (p.privateSources.length > 0) this.pullSources(p.privateSources, acc);
      }
      p.sendMix(acc, null, timeMs);
    }
    if (this.opts.forwardTwoParty !== false && TwoPartyForwarder.eligible(list, this.roomSources.length + this.tails.size)) fw.start(list[0], list[1], timeMs);
  };
}
