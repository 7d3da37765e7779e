// The main thread's side of one media thread: starts the worker, sends it
// commands (request/reply by number), routes its events to the room proxies,
// pumps main-thread FrameSources into their rings and drains its TickRings
// into main-thread TickSinks on timers. When the thread dies (an uncaught
// error, 'exit'), every room it ran closes with 'media-thread-died' (what its
// recorders' rings hold is drained first) and the pool starts a replacement.
import { Worker } from 'node:worker_threads';
import type { FrameSource, TickSink } from '../../mixer/frames.ts';
import type { Logger } from '../../util/logger.ts';
import { SlicedPass } from '../../util/sliced-pass.ts';
import { MediaCapacityError, MediaClosedError, SdpNegotiationError } from '../media-errors.ts';
import { MessageBatcher, unbatch, type Batch } from './message-batcher.ts';
import type { MediaCommand, MediaEvent, MediaThreadInit, SerializedError } from './protocol.ts';
import type { RemoteMediaRoom } from './remote-media-room.ts';
import { RingPool } from './ring-pool.ts';
import { SinkDrain, SourcePump } from './source-pump.ts';
import { TickRing } from './tick-ring.ts';

/** How long a closing thread has to end by itself (see close()) before it is terminated. */
const SHUTDOWN_GRACE_MS = 1000;
const PUMP_MS = 40;
const DRAIN_MS = 100;
/**
 * The timers' passes over every pump and every recorder's ring yield the event loop
 * after this long (the rest follows in the next turn): one pass over a few hundred
 * recorders held it for tens of ms, and calls being set up waited behind it.
 */
const SLICE_MS = 4;
/** A recorder's ring holds this long of ticks of a room with SINK_RING_LEGS legs at the recorder's rate... */
const SINK_RING_SECONDS = 2.5;
const SINK_RING_LEGS = 4;
/** ...in a power of two of bytes, at most this (~1 s at 48 kHz) and at least the smallest. */
const SINK_RING_MAX_BYTES = 512 * 1024;
const SINK_RING_MIN_BYTES = 64 * 1024;

/**
 * The data bytes of a recorder's ring at `sampleRate`: 256 KiB at 8 kHz, 512 KiB at 16 kHz
 * and above. A new ring is a zero-filled SharedArrayBuffer that the main thread allocates
 * and the media thread faults in as it writes; one size for every rate left a narrowband
 * recording's ring half unused (and the ring pool keeps them by size).
 */
export function sinkRingBytes(sampleRate: number): number {
  const want = SINK_RING_SECONDS * (1000 / 20) * TickRing.recordBytes(Math.ceil(sampleRate / 50), SINK_RING_LEGS);
  let bytes = SINK_RING_MIN_BYTES;
  while (bytes < want && bytes < SINK_RING_MAX_BYTES) bytes *= 2;
  return bytes;
}

type Command = MediaCommand extends infer C ? (C extends { req: number } ? Omit<C, 'req'> : never) : never;

export interface MediaThreadHandleOptions {
  init: MediaThreadInit;
  log: Logger;
  /** The thread died (not closed by us): called once, after its rooms closed. */
  died(handle: MediaThreadHandle, error: Error | null): void;
}

export class MediaThreadHandle {
  readonly index: number;
  readonly ready: Promise<void>;
  /** How the thread loaded its code, once ready: the bundle made at setup, or the TypeScript (media-thread-boot.mjs). */
  entry: 'bundle' | 'source' | null = null;
  /** The libopus its codecs use, once ready (opus-engine.ts): Debian's through the addon, or the wasm build and why. */
  opus: string | null = null;
  /** Ticks a recorder ring could not take (it was full), since the start. */
  droppedTicks = 0;
  /** Frames the thread had resampled, as of its last stats snapshot (Resampler.framesRun there). */
  resampledFrames = 0;
  /** Messages posted to the thread since the start, by command type (metrics: parley_media_thread_messages). */
  readonly sentByType = new Map<string, number>();
  /** Messages received from the thread since the start, by event type. */
  readonly receivedByType = new Map<string, number>();
  private readonly worker: Worker;
  /** Commands leave combined per turn (one postMessage for what one callback sends). */
  private readonly out: MessageBatcher<MediaCommand>;
  /** The thread's exit code once it has ended (0: it ended by itself; 1: terminated). */
  readonly exited: Promise<number>;
  private readonly rooms = new Map<string, RemoteMediaRoom>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly pumps = new Map<number, { pump: SourcePump; room: RemoteMediaRoom }>();
  private readonly drains = new Map<number, { drain: SinkDrain; room: RemoteMediaRoom }>();
  /** The rings of this thread's recorders and prompts, used again (ring-pool.ts). */
  readonly ringPool = new RingPool();
  private statsWaiters: (() => void)[] = [];
  private nextReq = 1;
  private nextId = 1;
  private readonly pumpTimer: NodeJS.Timeout;
  private readonly drainTimer: NodeJS.Timeout;
  private readonly pumpPass = new SlicedPass<SourcePump>(SLICE_MS, (pump) => {
    if (this.pumps.get(pump.id)?.pump === pump) pump.fill();
  });
  private readonly drainPass = new SlicedPass<SinkDrain>(SLICE_MS, (drain) => {
    if (this.drains.get(drain.id)?.drain === drain) this.drainOne(drain, false);
  });
  private dead = false;
  private closing = false;
  private lastError: Error | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: MediaThreadHandleOptions) {
    this.index = opts.init.index;
    this.log = opts.log.child({ thread: this.index });
    this.worker = new Worker(new URL('./media-thread-boot.mjs', import.meta.url), { workerData: opts.init, execArgv: [] });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: MediaEvent): void => {
        if (m.type === 'ready') {
          this.worker.off('message', onMessage);
          this.entry = m.entry;
          this.opus = m.opus;
          resolve();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', (code) => reject(new Error(`media thread ${this.index} exited during start (code ${code})`)));
    });
    this.out = new MessageBatcher((m) => {
      countType(this.sentByType, POSTS);
      this.worker.postMessage(m);
    });
    this.worker.on('message', (m: MediaEvent | Batch<MediaEvent>) => {
      countType(this.receivedByType, POSTS);
      unbatch(m, this.onEvent);
    });
    this.worker.on('error', (err) => {
      this.lastError = err;
      this.log.error({ err }, 'media thread failed');
    });
    this.worker.on('exit', (code) => this.onExit(code));
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.pumpTimer = setInterval(() => this.pumpPass.start([...this.pumps.values()].map((p) => p.pump)), PUMP_MS).unref();
    this.drainTimer = setInterval(() => this.drainPass.start([...this.drains.values()].map((d) => d.drain)), DRAIN_MS).unref();
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** Legs and rooms on this thread: what the pool balances. */
  get load(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += 1 + r.size;
    return n;
  }

  get roomList(): RemoteMediaRoom[] {
    return [...this.rooms.values()];
  }

  /** RTP port pairs held by legs on this thread. */
  get portsInUse(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += r.portsInUse;
    return n;
  }

  addRoom(room: RemoteMediaRoom): void {
    this.rooms.set(room.id, room);
  }

  /** @internal The room proxy closed. */
  roomClosed(room: RemoteMediaRoom): void {
    if (this.rooms.get(room.id) === room) this.rooms.delete(room.id);
    for (const [id, p] of this.pumps) {
      if (p.room !== room) continue;
      this.pumps.delete(id);
      p.pump.finish(true);
    }
    for (const [id, d] of this.drains) {
      if (d.room !== room) continue;
      this.drains.delete(id);
      d.drain.close();
    }
  }

  request<T>(cmd: Command): Promise<T> {
    if (this.dead) return Promise.reject(new MediaClosedError(`media thread ${this.index} is gone`));
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { resolve: resolve as (v: unknown) => void, reject });
      countType(this.sentByType, cmd.type);
      this.out.push({ ...cmd, req } as MediaCommand);
    });
  }

  send(cmd: MediaCommand): void {
    if (this.dead) return;
    countType(this.sentByType, cmd.type);
    this.out.push(cmd);
  }

  /** A main-thread FrameSource into a room (legId null) or one leg, through a ring. */
  playSource(room: RemoteMediaRoom, legId: string | null, source: FrameSource, sampleRate: number): void {
    const id = this.nextId++;
    const pump = new SourcePump(id, source, sampleRate, legId, (p) => this.send({ type: 'source.clear', sourceId: p.id }), this.ringPool);
    pump.fill();
    this.pumps.set(id, { pump, room });
    this.send({ type: 'source.play', roomId: room.id, legId, sourceId: id, ring: pump.ring.buffer, sampleRate });
  }

  /** Stops (on main) every source played to one leg: the leg closed. */
  stopLegSources(room: RemoteMediaRoom, legId: string): void {
    for (const [id, p] of this.pumps) {
      if (p.room !== room || p.pump.legId !== legId) continue;
      this.pumps.delete(id);
      p.pump.finish(true);
    }
  }

  addSink(room: RemoteMediaRoom, sink: TickSink, sampleRate: number): void {
    for (const d of this.drains.values()) if (d.drain.sink === sink && d.room === room) return;
    const id = this.nextId++;
    const drain = new SinkDrain(id, sink, sampleRate, sinkRingBytes(sampleRate), (slot) => room.legOfSlot(slot), this.ringPool);
    this.drains.set(id, { drain, room });
    this.send({ type: 'sink.add', roomId: room.id, sinkId: id, ring: drain.ring.buffer, sampleRate });
  }

  /** Removes a sink, handing it first every tick the thread already wrote. */
  removeSink(room: RemoteMediaRoom, sink: TickSink): void {
    for (const [id, d] of this.drains) {
      if (d.drain.sink !== sink || d.room !== room) continue;
      this.drainOne(d.drain, true);
      this.drains.delete(id);
      this.send({ type: 'sink.remove', roomId: room.id, sinkId: id });
      d.drain.close();
    }
  }

  /** Every tick written so far for a room's sinks (its close). */
  drainRoom(room: RemoteMediaRoom): void {
    for (const d of this.drains.values()) if (d.room === room) this.drainOne(d.drain, true);
  }

  /** Asks the thread for a snapshot now; resolves once it has been applied (tests, benches). */
  nextStats(): Promise<void> {
    if (this.dead) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.statsWaiters.push(resolve));
    this.send({ type: 'stats' });
    return p;
  }

  /** Test only: makes the thread fail with an uncaught error. */
  crash(): void {
    this.send({ type: 'crash' });
  }

  /** Test only: makes the thread block for `ms` (a stall: its ticks then catch up, its sockets queue). */
  stall(ms: number): void {
    this.send({ type: 'stall', ms });
  }

  /** Ends the thread (engine close): its rooms are closed by the engine first. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.pumpTimer);
    clearInterval(this.drainTimer);
    this.pumpPass.close();
    this.drainPass.close();
    // What this turn sent (the engine's last room closes) leaves as it did before batching,
    // then 'shutdown': the thread closes every socket and its loop ends by itself. Terminating
    // it with sockets open can abort the whole process (a datagram received while the worker
    // terminates: node::AddressToJS's FromJust fails); terminate() only if it has not ended soon.
    this.out.push({ type: 'shutdown' });
    this.out.flush();
    this.out.close();
    const force = setTimeout(() => void this.worker.terminate().catch(() => undefined), SHUTDOWN_GRACE_MS);
    force.unref();
    this.worker.once('exit', () => clearTimeout(force));
  }

  private readonly onEvent = (m: MediaEvent): void => {
    countType(this.receivedByType, m.type);
    switch (m.type) {
      case 'ready':
        return;
      case 'reply': {
        const p = this.pending.get(m.req);
        if (!p) return;
        this.pending.delete(m.req);
        if (m.ok) p.resolve(m.value);
        else p.reject(deserialize(m.error));
        return;
      }
      case 'source.done': {
        const p = this.pumps.get(m.sourceId);
        if (!p) return;
        this.pumps.delete(m.sourceId);
        p.pump.finish(m.stopped);
        return;
      }
      case 'sink.slot': {
        this.drains.get(m.sinkId)?.drain.nameSlot(m.slot, m.legId);
        return;
      }
      case 'stats':
        this.resampledFrames = m.resampledFrames;
        for (const s of m.rooms) this.rooms.get(s.roomId)?.applySnapshot(s);
        for (const w of this.statsWaiters.splice(0)) w();
        return;
      default:
        this.rooms.get(m.roomId)?.onThreadEvent(m);
    }
  };

  private drainAll(last: boolean): void {
    for (const { drain } of this.drains.values()) this.drainOne(drain, last);
  }

  private drainOne(drain: SinkDrain, last: boolean): void {
    drain.drain(last);
    const lost = drain.newlyDropped();
    if (lost > 0) {
      this.droppedTicks += lost;
      this.log.error({ sink: drain.id, lost, total: this.droppedTicks }, 'recording ticks lost: the ring was full');
    }
  }

  private onExit(code: number): void {
    clearInterval(this.pumpTimer);
    clearInterval(this.drainTimer);
    this.pumpPass.close();
    this.drainPass.close();
    this.dead = true;
    this.out.close();
    for (const p of this.pending.values()) p.reject(new MediaClosedError(`media thread ${this.index} died`));
    this.pending.clear();
    for (const w of this.statsWaiters.splice(0)) w();
    if (this.closing) return;
    this.log.error({ code, err: this.lastError }, 'media thread died: its rooms close');
    // What the thread wrote before it died is in the rings: recorders get all of it.
    this.drainAll(true);
    for (const room of [...this.rooms.values()]) room.close('media-thread-died');
    for (const { pump } of this.pumps.values()) pump.finish(true);
    this.pumps.clear();
    this.drains.clear();
    this.opts.died(this, this.lastError);
  }
}

/** The count of postMessage calls (a batch is one) among the counts by type. */
const POSTS = '(postMessage)';

function countType(counts: Map<string, number>, type: string): void {
  counts.set(type, (counts.get(type) ?? 0) + 1);
}

function deserialize(e: SerializedError): Error {
  if (e.name === 'SdpNegotiationError') return new SdpNegotiationError(e.message, e.warning);
  if (e.name === 'MediaClosedError') return new MediaClosedError(e.message);
  if (e.name === 'MediaCapacityError') return new MediaCapacityError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
