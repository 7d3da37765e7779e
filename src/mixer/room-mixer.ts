// One room's mixer: every 20 ms of the room's clock it pulls each leg's input,
// sums the legs heard by everyone plus room-wide sources into an Int32 total,
// and gives each listener total minus its own voice, plus what only it hears
// (a coach, a whisper), through its own limiter and encoder. Recorders get the
// full mix and every leg's input per tick (TickSink). Transport-agnostic: RTP
// comes in through participant.pushRtp() and leaves through each one's send().
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { samplesPerFrame, type FrameSource, type MixTick, type PcmFrame, type TickSink } from './frames.ts';
import { MixClock, type ClockStats } from './mix-clock.ts';
import { MixerParticipant, type ParticipantMedia } from './mixer-participant.ts';
import { SoftLimiter } from './soft-limiter.ts';

export interface RoomMixerOptions {
  sampleRate: number;
  jitterMinMs: number;
  jitterMaxMs: number;
  log: Logger;
}

export type RoomMixerEvents = {
  close: [];
};

export class RoomMixer extends TypedEmitter<RoomMixerEvents> {
  readonly sampleRate: number;
  readonly frameSamples: number;
  private readonly participants = new Map<string, MixerParticipant>();
  /** Same participants as an array, rebuilt on change, iterated on every tick. */
  private list: MixerParticipant[] = [];
  private readonly roomSources: FrameSource[] = [];
  private readonly sinks = new Set<TickSink>();
  private readonly total: Int32Array;
  private readonly sinkLimiter = new SoftLimiter();
  private readonly clock: MixClock;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly opts: RoomMixerOptions) {
    super(opts.log);
    this.log = opts.log;
    this.sampleRate = opts.sampleRate;
    this.frameSamples = samplesPerFrame(opts.sampleRate);
    this.total = new Int32Array(this.frameSamples);
    this.clock = new MixClock(this.tick);
  }

  get clockStats(): ClockStats {
    return this.clock.stats;
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

  createParticipant(id: string, media: ParticipantMedia, send: (packet: Buffer) => void, inbandDtmf = false): MixerParticipant {
    if (this.closed) throw new Error('mixer is closed');
    if (this.participants.has(id)) throw new Error(`participant ${id} exists`);
    const p = new MixerParticipant(
      {
        id,
        media,
        sampleRate: this.opts.sampleRate,
        jitterMinMs: this.opts.jitterMinMs,
        jitterMaxMs: this.opts.jitterMaxMs,
        inbandDtmf,
        send,
        log: this.log.child({ leg: id }),
      },
      this.participantClosed,
    );
    this.participants.set(id, p);
    this.list = [...this.participants.values()];
    this.clock.start();
    return p;
  }

  /** Plays a source to the whole room (every listener hears it, recorders too). */
  play(source: FrameSource): void {
    if (this.closed) throw new Error('mixer is closed');
    this.roomSources.push(source);
    this.clock.start();
  }

  addSink(sink: TickSink): void {
    if (this.closed) throw new Error('mixer is closed');
    this.sinks.add(sink);
    this.clock.start();
  }

  removeSink(sink: TickSink): void {
    this.sinks.delete(sink);
  }

  /** Stops the clock, closes every participant, stops every source. Idempotent; emits 'close' once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.stop();
    for (const p of [...this.participants.values()]) p.close();
    for (const s of this.roomSources) s.stop();
    this.roomSources.length = 0;
    this.sinks.clear();
    this.safeEmit('close');
    this.removeAllListeners();
  }

  private readonly participantClosed = (p: MixerParticipant): void => {
    this.participants.delete(p.id);
    this.list = [...this.participants.values()];
  };

  /** Adds one frame of each source into acc; drops finished sources. */
  private pullSources(sources: FrameSource[], acc: Int32Array): void {
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

  private readonly tick = (timeMs: number): void => {
    const list = this.list;
    const total = this.total;
    const n = this.frameSamples;
    total.fill(0);
    for (const p of list) p.pullInput(timeMs);
    if (this.roomSources.length > 0) this.pullSources(this.roomSources, total);
    for (const p of list) {
      if (!p.hasInput || !p.speaksToAll) continue;
      const x = p.input;
      for (let k = 0; k < n; k++) total[k] += x[k];
    }
    if (this.sinks.size > 0) this.feedSinks(timeMs);
    // Directed speech (coach, whisper between legs) this tick? Without it, and
    // without a private source, a listener's mix is total − own input, which the
    // limiter computes in its single pass.
    let directed = false;
    for (const q of list) if (q.hasInput && !q.muted && q.audience !== null) directed = true;
    for (const p of list) {
      if (!p.sending) continue;
      const own = p.hasInput && p.speaksToAll ? p.input : null;
      if (!p.deaf && !directed && p.privateSources.length === 0) {
        p.sendMix(total, own);
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
      p.sendMix(acc, null);
    }
  };

  private feedSinks(timeMs: number): void {
    // Fresh frames per tick: a sink may keep them (queue them to a file stream).
    const mix = new Int16Array(this.frameSamples);
    this.sinkLimiter.process(this.total, mix, this.frameSamples);
    const legs = new Map<string, PcmFrame | null>();
    for (const p of this.list) legs.set(p.id, p.hasInput ? p.input.slice() : null);
    const tick: MixTick = { timeMs, mix, legs };
    for (const s of this.sinks) {
      try {
        s.writeTick(tick);
      } catch (err) {
        this.log.error({ err }, 'tick sink threw');
      }
    }
  }
}
