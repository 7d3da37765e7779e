// The API's event bus: turns what the process's objects emit (calls, rosters,
// recorders, the inbound router) into numbered JSON events for the WebSocket
// stream and the webhooks. Listens only; close() detaches every listener.
import type { Parley } from '../app.ts';
import type { ActiveCall } from '../call/call-manager.ts';
import type { Conference } from '../call/conference/conference-manager.ts';
import type { Recorder } from '../recording/recorder.ts';
import { siprecSummary } from '../recording/siprec-sidecar.ts';
import type { RecoveredRecording } from '../recording/recover-recordings.ts';
import type { StoredRecording } from '../recording/store/recording-uploader.ts';
import type { RouteDecision } from '../policy/rule-types.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';

export type ApiEventType =
  | 'call.created'
  | 'call.ended'
  | 'leg.joined'
  | 'leg.left'
  | 'leg.held'
  | 'leg.resumed'
  | 'talking'
  | 'dtmf'
  | 'recording.started'
  | 'recording.state'
  | 'recording.saved'
  | 'recording.stored'
  | 'recording.failed'
  | 'rule.matched';

export interface ApiEvent {
  type: ApiEventType;
  /** Increases by one per event of this process. */
  seq: number;
  at: string;
  /** The cluster node that published it (absent when Parley runs alone). */
  node?: string;
  data: Record<string, unknown>;
}

export type EventHubEvents = { event: [event: ApiEvent] };

/** A recording that cannot be written (a full disk) may fail on every flush: the stream gets its first failures, parley_recording_errors_total counts all. */
const MAX_FAILURE_EVENTS_PER_RECORDING = 20;

export class EventHub extends TypedEmitter<EventHubEvents> {
  private seq = 0;
  private readonly detach: (() => void)[] = [];
  private closed = false;

  /** Closed: events published now go nowhere. */
  get isClosed(): boolean {
    return this.closed;
  }
  /**
   * The last `backlog` events for clients that connect late: a ring, the oldest at
   * `head` (an array shifted at every event moved all of api.eventBacklog each time).
   * Seqs are consecutive, so an event is found by its seq without a search.
   */
  private readonly recent: (ApiEvent | undefined)[] = [];
  private head = 0;
  private kept = 0;
  private readonly node: string | undefined;

  constructor(
    private readonly parley: Parley,
    log: Logger,
    private readonly backlog = 1000,
  ) {
    super(log);
    const cluster = parley.cluster;
    this.node = cluster?.nodeId;
    if (cluster) {
      // One survivor reports a dead node's calls (src/cluster/node-reaper.ts).
      const onLost = (node: string, lost: Array<{ callId: string; flow: string; startedAt: string }>): void => {
        for (const c of lost) {
          this.publish('call.ended', { callId: c.callId, flow: c.flow, reason: 'node-lost', lostNode: node, durationMs: Date.now() - Date.parse(c.startedAt) });
        }
      };
      cluster.on('nodelost', onLost);
      this.detach.push(() => cluster.off('nodelost', onLost));
    }
    const calls = parley.calls;
    if (calls) {
      const onStart = (a: ActiveCall): void => this.onCallStart(a);
      const onEnd = (a: ActiveCall, outcome: { reason: string }): void =>
        this.publish('call.ended', {
          callId: a.call.callId,
          flow: a.flow,
          reason: outcome.reason,
          durationMs: Date.now() - a.startedAt.getTime(),
        });
      calls.on('callstart', onStart);
      calls.on('callend', onEnd);
      this.detach.push(() => calls.off('callstart', onStart).off('callend', onEnd));
    }
    const confs = parley.conferences;
    if (confs) {
      const onOpen = (c: Conference): void => this.onRoomOpen(c);
      confs.on('roomopen', onOpen);
      this.detach.push(() => confs.off('roomopen', onOpen));
    }
    const recs = parley.recordings;
    if (recs) {
      const onRecorder = (r: Recorder): void => this.onRecorder(r);
      // Interrupted recordings an earlier process left, repaired at start, are saved recordings too.
      const onRecovered = (x: RecoveredRecording): void =>
        this.publish('recording.saved', { id: x.id, room: x.meta.room, durationMs: x.meta.durationMs, files: x.files, postProcessing: x.meta.postProcessing.state, interrupted: x.meta.interrupted ?? false, ...(x.meta.siprec ? { siprec: siprecSummary(x.meta.siprec) } : {}), ...(x.meta.cluster ? { cluster: x.meta.cluster } : {}) });
      recs.on('recorder', onRecorder).on('recovered', onRecovered);
      this.detach.push(() => recs.off('recorder', onRecorder).off('recovered', onRecovered));
      // Safe: every file verified in the bucket (and the local audio removed when so configured).
      const store = recs.store;
      const onStored = (x: StoredRecording): void =>
        this.publish('recording.stored', { id: x.id, bucket: x.bucket, objects: x.objects.map((o) => ({ file: o.file, url: o.url, size: o.size, sha256: o.sha256 })), removedLocal: x.removed });
      store?.on('stored', onStored);
      this.detach.push(() => store?.off('stored', onStored));
    }
    const router = parley.inbound;
    if (router) {
      const onRouted = (d: RouteDecision, method: string, callId: string): void => {
        if (d.decidedBy === null) return;
        this.publish('rule.matched', { rule: d.decidedBy, method, callId, outcome: d.outcome.kind, requestUri: d.requestUri });
      };
      router.on('routed', onRouted);
      this.detach.push(() => router.off('routed', onRouted));
    }
  }

  publish(type: ApiEventType, data: Record<string, unknown>): void {
    if (this.closed) return;
    const event: ApiEvent = { type, seq: ++this.seq, at: new Date().toISOString(), ...(this.node ? { node: this.node } : {}), data };
    if (this.backlog > 0) {
      this.recent[(this.head + this.kept) % this.backlog] = event;
      if (this.kept < this.backlog) this.kept++;
      else this.head = (this.head + 1) % this.backlog;
    }
    this.safeEmit('event', event);
  }

  /** The seq of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The seq of the oldest event still kept (lastSeq + 1 when none is). */
  get oldestSeq(): number {
    return this.seq + 1 - this.kept;
  }

  /** Kept events after `seq`, oldest first, at most `limit`. */
  since(seq: number, limit = Infinity): ApiEvent[] {
    const out: ApiEvent[] = [];
    // The kept events are seqs oldestSeq..lastSeq, in ring order.
    const skip = Math.max(0, Math.min(this.kept, Math.floor(seq) - this.oldestSeq + 1));
    for (let i = skip; i < this.kept && out.length < limit; i++) out.push(this.recent[(this.head + i) % this.backlog]!);
    return out;
  }

  /** Detaches from every source. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.detach.splice(0)) d();
    this.removeAllListeners();
  }

  private onCallStart(a: ActiveCall): void {
    const call = a.call;
    const callId = call.callId;
    this.publish('call.created', { callId, flow: a.flow, from: call.from.uri, to: call.originalTo.uri, requestUri: call.requestUri });
    this.publish('leg.joined', { callId, room: call.room.id, leg: 'caller', uri: call.from.uri });
    // The call's listeners die with the call: SipCall and its room are not reused.
    call.on('legjoined', (leg, uri) => {
      this.publish('leg.joined', { callId, room: call.room.id, leg, uri });
      // The other legs of the call (the bridged callee) talk and press keys too.
      const media = call.room.leg(leg);
      media?.on('talk', (talking) => this.publish('talking', { callId, leg, talking }));
      media?.on('dtmf', (e) => this.publish('dtmf', { callId, leg, digit: e.digit, durationMs: e.durationMs }));
    });
    call.on('dtmf', (digit, durationMs) => this.publish('dtmf', { callId, leg: 'caller', digit, durationMs }));
    // A leg's phone put the call on hold (sendonly, inactive) or resumed it.
    call.on('hold', (leg, direction) =>
      direction ? this.publish('leg.held', { callId, room: call.room.id, leg, direction }) : this.publish('leg.resumed', { callId, room: call.room.id, leg }),
    );
    call.leg.on('talk', (talking) => this.publish('talking', { callId, leg: 'caller', talking }));
    call.room.on('legclose', (leg) => this.publish('leg.left', { callId, room: call.room.id, leg: leg.id }));
  }

  private onRoomOpen(c: Conference): void {
    const room = c.name;
    // In a cluster: the ownership epoch of the room's lease, so events of two owners of one room can be told apart.
    const epoch = c.epoch === null ? {} : { epoch: c.epoch };
    c.roster.on('join', (e) => this.publish('leg.joined', { room, ...epoch, leg: e.legId, callId: e.callId, uri: e.uri, identity: e.identity, ...(e.remoteNode ? { remoteNode: e.remoteNode } : {}) }));
    c.roster.on('leave', (e, reason) => this.publish('leg.left', { room, ...epoch, leg: e.legId, callId: e.callId, reason }));
    c.roster.on('hold', (e, direction) =>
      direction ? this.publish('leg.held', { room, ...epoch, leg: e.legId, callId: e.callId, direction }) : this.publish('leg.resumed', { room, ...epoch, leg: e.legId, callId: e.callId }),
    );
    c.roster.on('talking', (e, talking) => this.publish('talking', { room, leg: e.legId, callId: e.callId, talking }));
    c.roster.on('dtmf', (e, digit, durationMs) => this.publish('dtmf', { room, leg: e.legId, callId: e.callId, digit, durationMs }));
  }

  private onRecorder(r: Recorder): void {
    const room = r.roomId;
    this.publish('recording.started', { id: r.id, room });
    r.on('state', (s) => this.publish('recording.state', { id: r.id, room, paused: s.paused, masked: s.masked, closed: false }));
    r.once('closed', () => this.publish('recording.state', { id: r.id, room, paused: false, masked: false, closed: true }));
    let failures = 0;
    r.on('error', (err) => {
      if (++failures > MAX_FAILURE_EVENTS_PER_RECORDING) return;
      this.publish('recording.failed', { id: r.id, code: (err as NodeJS.ErrnoException).code ?? null, message: err.message, failures });
    });
    r.once('finalized', (m) =>
      this.publish('recording.saved', {
        id: r.id,
        room: m.room,
        durationMs: m.durationMs,
        files: r.files,
        postProcessing: m.postProcessing.state,
        // A SIPREC recording: who was recorded (RFC 7865 participants) and its session and group.
        ...(m.siprec ? { siprec: siprecSummary(m.siprec) } : {}),
        // In a cluster: the node and the room lease's epoch the call was admitted under.
        ...(m.cluster ? { cluster: m.cluster } : {}),
      }),
    );
  }
}
