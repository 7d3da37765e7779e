// This process as a node of a Parley cluster (config `cluster`): owns the Redis
// link, the node registry, the room leases, the INVITE gate and the reaper of
// dead nodes, and runs one heartbeat timer (registry entry, lease renewals,
// dead-node sweep). Parley wires it to the call manager (gate, calls started
// and ended), the conference manager (room ownership) and the API (node id,
// cluster lists, forwarded actions). Nothing here stops a call: losing Redis
// refuses new rooms until it is back, and joins to a held room once its lease
// could not be renewed for leaseMs (room-leases.ts); peers probe a node that is
// silent in Redis before they report it lost (node-reaper.ts).
import { randomUUID } from 'node:crypto';
import type { ClusterConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { ApiEvent } from '../api/event-hub.ts';
import { ClusterWebhooks, type WebhookSink } from './cluster-webhooks.ts';
import { InviteGate } from './invite-gate.ts';
import { NodeReaper } from './node-reaper.ts';
import { NodeRegistry, type ClusterCallRecord, type NodeEntry, type NodeState } from './node-registry.ts';
import { RedisLink } from './redis-link.ts';
import { RoomLeases } from './room-leases.ts';
import { OWNER_LOST, type PipeAcceptor } from './room-pipe.ts';
import { peerRequest } from './peer-request.ts';

/** The node at the other end of a pipe, as known when the pipe was made (its run: a restarted node is another). */
export interface PipePeer {
  api: string | null;
  run: string | null;
}

export type ClusterNodeEvents = {
  /** A dead node's calls, reported once by one survivor. */
  nodelost: [nodeId: string, calls: ClusterCallRecord[]];
  statechange: [state: NodeState];
};

const PROBE_TIMEOUT_MS = 1000;
/** How long a clean stop waits for webhook requests in flight (a request gives up after 5 s). */
const WEBHOOK_QUIESCE_MS = 5500;

/** What the node publishes as its load, asked at every heartbeat. */
export type LoadProbe = () => NodeEntry['load'];

/** A room owned by another node (a join after an answer cannot be redirected). */
export class RoomOwnedElsewhereError extends Error {
  override name = 'RoomOwnedElsewhereError';
  readonly status = 503;
  constructor(
    readonly room: string,
    readonly owner: string,
  ) {
    super(`room ${room} is owned by node ${owner}`);
  }
}

export class ClusterNode extends TypedEmitter<ClusterNodeEvents> {
  readonly link: RedisLink;
  readonly registry: NodeRegistry;
  readonly leases: RoomLeases;
  readonly gate: InviteGate;
  private readonly reaper: NodeReaper;
  private webhooks: ClusterWebhooks | null = null;
  /** The owner's side of pipes from callers on other nodes (set by attachCluster). */
  pipes: PipeAcceptor | null = null;
  /** This node's callers piped into rooms of other nodes: pipe id → the room's owner, and what ends the join (the owner ended the pipe, or is lost). */
  readonly outgoingPipes = new Map<string, { owner: string; peer: PipePeer; end: (reason: string) => void }>();
  /** Random per process: peers probing this node check it (a restarted node is another run). */
  readonly run = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  private checkingPipes = false;
  private closed = false;
  /** Handlers a survivor runs for a dead node beyond reporting its calls (webhook takeover). */
  private readonly lostHooks: ((nodeId: string) => Promise<void>)[] = [];

  constructor(
    readonly config: ClusterConfig,
    private readonly load: LoadProbe,
    private readonly log: Logger,
  ) {
    super(log);
    this.link = new RedisLink(config.redisUrl, log, `parley-${config.nodeId}`);
    this.registry = new NodeRegistry(this.link, { id: config.nodeId, sip: config.sipAddress, api: config.apiAddress, ttlMs: config.nodeTtlMs, run: this.run }, log);
    this.leases = new RoomLeases(this.link, config.nodeId, config.leaseMs, log, config.sipAddress);
    this.gate = new InviteGate(this.leases, this.registry, log);
    this.reaper = new NodeReaper(this.link, this.registry, (id, calls) => this.nodeLost(id, calls), log);
    // Back after an outage or a restart: register (and re-assert leases) at once, not at the next tick.
    this.link.on('up', () => this.beat());
  }

  /**
   * The token peers' APIs take (every node has the same): a silent node is then
   * probed at GET /cluster/alive before it is reported lost.
   */
  setPeerToken(token: string): void {
    this.reaper.probe = async (id, api, run) => {
      const res = await peerRequest(`${api}/cluster/alive`, token, 'GET', undefined, PROBE_TIMEOUT_MS);
      if (res.status !== 200) return false;
      const body = (await res.json()) as { node?: unknown; run?: unknown };
      return body.node === id && (run === '' || body.run === run);
    };
  }

  /** Silent nodes in Redis found alive by their probe (cut off from Redis). */
  get silentButAlive(): string[] {
    return this.reaper.silentButAlive;
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  get state(): NodeState {
    return this.registry.state;
  }

  /** Connects to Redis and starts the heartbeat. Resolves even when Redis is down (the node registers once it is up). */
  async start(): Promise<void> {
    await this.link.connect();
    this.timer = setInterval(() => this.beat(), this.config.heartbeatMs);
    this.timer.unref();
    if (this.link.isUp) await this.heartbeat();
    else this.log.warn({ url: this.link.redacted }, 'redis unreachable at start; the node registers when it is up');
  }

  /** Marks the node draining: no new rooms (503); its rooms still take joins. */
  drain(): void {
    if (this.registry.state === 'draining') return;
    this.registry.state = 'draining';
    this.log.info('cluster node draining');
    this.safeEmit('statechange', 'draining');
    this.beat();
  }

  /** A room's lease for the conference manager: rejects when another node owns the room. */
  async acquireRoom(room: string): Promise<number> {
    const lease = await this.leases.claim(room);
    if (lease.owner !== this.nodeId) throw new RoomOwnedElsewhereError(room, lease.owner);
    return lease.epoch;
  }

  releaseRoom(room: string): void {
    this.leases.release(room);
  }

  holdsRoom(room: string): boolean {
    return this.leases.holds(room);
  }

  /** Another node that owns the room now (null: this node, nobody, or Redis unreachable). */
  async ownerOf(room: string): Promise<string | null> {
    if (!this.link.isUp || this.leases.local(room)) return null;
    const lease = await this.leases.owner(room);
    return lease && lease.owner !== this.nodeId ? lease.owner : null;
  }

  callStarted(rec: ClusterCallRecord): void {
    this.registry.callStarted(rec);
  }

  callEnded(callId: string): void {
    this.registry.callEnded(callId);
  }

  onNodeLost(hook: (nodeId: string) => Promise<void>): void {
    this.lostHooks.push(hook);
  }

  /**
   * Webhooks through the cluster's stream (delivered once, taken over from dead
   * nodes): returns what the API calls with each event instead of sink.handle.
   */
  attachWebhooks(sink: WebhookSink): (event: ApiEvent) => void {
    this.webhooks?.close();
    const w = new ClusterWebhooks(this.link, this.nodeId, sink, this.log);
    this.webhooks = w;
    this.onNodeLost(async (id) => {
      if (this.webhooks === w) await w.takeOver(id);
    });
    // What a previous run of this node left unsettled (a crash, or a stop with deliveries pending), unless a survivor took it.
    if (this.link.isUp) w.takeOver(this.nodeId).catch((err: unknown) => this.log.warn({ err }, 'own webhook journal not resumed'));
    return (e) => w.publish(e);
  }

  /** The API's sender is closing: nothing more is journaled; unsettled entries stay in Redis. */
  detachWebhooks(): void {
    this.webhooks?.close();
  }

  get webhookTakeovers(): number {
    return this.webhooks?.takenOver ?? 0;
  }

  /** A clean stop: leases released and the entry removed (its calls ended already), before close(). */
  async leave(): Promise<void> {
    if (this.closed) return;
    // Deliveries in flight finish and are settled first (bounded): none is sent twice.
    await this.webhooks?.quiesce(WEBHOOK_QUIESCE_MS);
    if (this.closed) return;
    this.leases.releaseAll();
    try {
      // Deliveries still pending stay journaled: the node then stays in the set of nodes, so a survivor takes them over.
      await this.registry.deregister(this.webhooks !== null && this.webhooks.pendingCount > 0);
    } catch (err) {
      this.log.warn({ err }, 'deregistration failed; the entry expires by itself');
    }
  }

  /** Synchronous, idempotent: the heartbeat stops and Redis is disconnected; leases lapse by themselves. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.webhooks?.close();
    this.pipes?.closeAll();
    this.link.close();
  }

  private beat(): void {
    if (this.closed || this.beating) return;
    this.beating = true;
    this.heartbeat()
      .catch((err: unknown) => this.log.debug({ err }, 'heartbeat failed'))
      .finally(() => {
        this.beating = false;
      });
  }

  private async heartbeat(): Promise<void> {
    if (!this.link.isUp) return;
    await this.registry.heartbeat(this.load());
    await this.leases.renewAll();
    await this.reaper.sweep();
    this.checkPipePeers();
  }

  /**
   * The nodes at the other end of this node's pipes, asked at every heartbeat: one that is lost
   * (no entry in Redis and no answer to its probe, or reaped already) ends them here, whichever
   * survivor reaps it: a caller piped into its room is hung up as on a room close, its caller's
   * pipe leaves this node's room (which closes when it is left empty). Apart from the heartbeat:
   * a probe may take a second.
   */
  private checkPipePeers(): void {
    if (this.checkingPipes || this.closed) return;
    const peers = new Map<string, PipePeer>();
    for (const p of this.outgoingPipes.values()) peers.set(p.owner, p.peer);
    for (const [id, peer] of this.pipes?.callerNodes ?? []) peers.set(id, peer);
    if (peers.size === 0) return;
    this.checkingPipes = true;
    (async () => {
      for (const [id, peer] of peers) {
        if (id === this.nodeId || !this.link.isUp || (await this.registry.entry(id)) || (await this.peerAnswers(id, peer))) continue;
        if (this.closed) return;
        const outgoing = [...this.outgoingPipes.values()].filter((p) => p.owner === id);
        const dropped = this.pipes?.dropNode(id) ?? 0;
        this.log.warn({ node: id, callers: outgoing.length, piped: dropped }, 'pipes to a lost node ended');
        for (const p of outgoing) p.end(OWNER_LOST);
      }
    })()
      .catch((err: unknown) => this.log.debug({ err }, 'checking the nodes of pipes failed'))
      .finally(() => {
        this.checkingPipes = false;
      });
  }

  /**
   * A node without an entry in Redis asked directly, at the API it had when the pipe was made (its
   * address in Redis may be gone: reaped, or Redis restarted empty): alive if it answers as the same run.
   */
  private async peerAnswers(id: string, peer: PipePeer): Promise<boolean> {
    const probe = this.reaper.probe;
    if (!probe || !peer.api) return true;
    return probe(id, peer.api, peer.run ?? '').catch(() => false);
  }

  private async nodeLost(id: string, calls: ClusterCallRecord[]): Promise<void> {
    this.safeEmit('nodelost', id, calls);
    for (const hook of this.lostHooks) {
      try {
        await hook(id);
      } catch (err) {
        this.log.error({ err, node: id }, 'taking over a lost node failed');
      }
    }
  }
}
