// The node registry: every node publishes its entry (state, load, addresses)
// with a short expiry and refreshes it every heartbeat; it also keeps the
// Call-IDs of its calls in progress in a hash without expiry, so that when it
// dies a survivor can report those calls as ended (node-reaper.ts).
// While Redis is unreachable the heartbeat just fails (calls go on); when Redis
// is back, possibly empty after a restart, the next heartbeat writes the whole
// entry, the set of nodes and the call hash again (resync).
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { RedisLink } from './redis-link.ts';

export type NodeState = 'serving' | 'draining';

export interface NodeEntry {
  id: string;
  state: NodeState;
  sip: string;
  api: string;
  load: { calls: number; rooms: number };
  /** When the entry was written (ms since the epoch). */
  at: number;
}

export interface ClusterCallRecord {
  callId: string;
  flow: string;
  from: string;
  to: string;
  startedAt: string;
  room?: string;
}

/** Where a node can be reached, kept after its entry expired (keys.nodeAddr). */
export interface NodeAddress {
  sip: string;
  api: string;
  /** Random per process: a node that answers with another run id restarted (its old calls are gone). */
  run: string;
}

export class NodeRegistry {
  private readonly calls = new Map<string, ClusterCallRecord>();
  /** The call hash must be written whole at the next heartbeat (start, Redis back). */
  private resync = true;
  state: NodeState = 'serving';

  constructor(
    private readonly link: RedisLink,
    private readonly self: { id: string; sip: string; api: string; ttlMs: number; run: string },
    private readonly log: Logger,
  ) {
    link.on('up', () => {
      this.resync = true;
    });
  }

  get id(): string {
    return this.self.id;
  }

  get localCalls(): ReadonlyMap<string, ClusterCallRecord> {
    return this.calls;
  }

  // A change is written at once whenever Redis is up, even while a resync is due:
  // commands on the one connection stay in order, so a resync written earlier
  // cannot undo it, and one written later is built from the map, which has it.
  // (Skipping it during a resync left an ended call in the hash, reported again
  // as node-lost when the node died.)
  callStarted(rec: ClusterCallRecord): void {
    this.calls.set(rec.callId, rec);
    if (this.link.isUp) {
      this.link.client.hset(keys.nodeCalls(this.self.id), rec.callId, JSON.stringify(rec)).catch(() => {
        this.resync = true;
      });
    }
  }

  callEnded(callId: string): void {
    if (!this.calls.delete(callId)) return;
    if (this.link.isUp) {
      this.link.client.hdel(keys.nodeCalls(this.self.id), callId).catch(() => {
        this.resync = true;
      });
    }
  }

  /** Writes this node's entry (and, after a start or an outage, its whole call hash). */
  async heartbeat(load: NodeEntry['load']): Promise<void> {
    if (!this.link.isUp) return;
    const entry: NodeEntry = { id: this.self.id, state: this.state, sip: this.self.sip, api: this.self.api, load, at: Date.now() };
    const p = this.link.client.multi();
    p.set(keys.node(this.self.id), JSON.stringify(entry), 'PX', this.self.ttlMs);
    p.sadd(keys.nodes, this.self.id);
    // Cleared now, so that a write failing while this one is under way asks for the next.
    const resync = this.resync;
    this.resync = false;
    if (resync) {
      const addr: NodeAddress = { sip: this.self.sip, api: this.self.api, run: this.self.run };
      p.set(keys.nodeAddr(this.self.id), JSON.stringify(addr));
      p.del(keys.nodeCalls(this.self.id));
      const flat: string[] = [];
      for (const [id, rec] of this.calls) flat.push(id, JSON.stringify(rec));
      if (flat.length > 0) p.hset(keys.nodeCalls(this.self.id), ...flat);
    }
    const res = await p.exec().catch(() => null);
    if (!res || res.some(([err]) => err)) {
      if (resync) this.resync = true;
      throw new Error('registry heartbeat failed');
    }
    if (resync) this.log.info({ calls: this.calls.size }, 'registered in the cluster');
  }

  /** Every live node's entry (this one included), by id. */
  async nodes(): Promise<Map<string, NodeEntry>> {
    const ids = await this.link.client.smembers(keys.nodes);
    const out = new Map<string, NodeEntry>();
    if (ids.length === 0) return out;
    const values = await this.link.client.mget(ids.map((id) => keys.node(id)));
    values.forEach((v) => {
      if (!v) return;
      try {
        const e = JSON.parse(v) as NodeEntry;
        out.set(e.id, e);
      } catch {
        // a foreign value: not a node
      }
    });
    return out;
  }

  /** One live node's entry (null: unknown or expired). */
  async entry(id: string): Promise<NodeEntry | null> {
    const v = await this.link.client.get(keys.node(id));
    if (!v) return null;
    try {
      return JSON.parse(v) as NodeEntry;
    } catch {
      return null;
    }
  }

  /** A node's addresses and run id, also after its entry expired (null: unknown). */
  async address(id: string): Promise<NodeAddress | null> {
    const v = await this.link.client.get(keys.nodeAddr(id));
    if (!v) return null;
    try {
      return JSON.parse(v) as NodeAddress;
    } catch {
      return null;
    }
  }

  /** Which node holds a call in progress (null: none that Redis knows). */
  async callOwner(callId: string): Promise<string | null> {
    const ids = await this.link.client.smembers(keys.nodes);
    if (ids.length === 0) return null;
    const p = this.link.client.pipeline();
    for (const id of ids) p.hexists(keys.nodeCalls(id), callId);
    const res = (await p.exec()) ?? [];
    const i = res.findIndex(([err, v]) => !err && v === 1);
    return i >= 0 ? ids[i]! : null;
  }

  /** Ids in the set of nodes whose entry has expired: dead (or cut off from Redis longer than their TTL). */
  async silentNodes(): Promise<string[]> {
    const ids = await this.link.client.smembers(keys.nodes);
    const others = ids.filter((id) => id !== this.self.id);
    if (others.length === 0) return [];
    const values = await this.link.client.mget(others.map((id) => keys.node(id)));
    return others.filter((_, i) => values[i] === null);
  }

  /**
   * Removes this node's entry and call hash (a clean stop: its calls ended already).
   * `leaveJournal`: webhooks are still pending, so the node stays in the set of nodes
   * and the survivor that reaps it takes its journal over.
   */
  async deregister(leaveJournal = false): Promise<void> {
    if (!this.link.isUp) return;
    const m = this.link.client.multi().del(keys.node(this.self.id)).del(keys.nodeCalls(this.self.id));
    if (!leaveJournal) m.srem(keys.nodes, this.self.id).del(keys.nodeAddr(this.self.id));
    await m.exec();
  }
}
