// Node death: a node in the set of nodes whose entry has expired is dead (or
// cut off from Redis for longer than its TTL). One survivor, the one that takes
// the short reap lock, reads the dead node's call hash, reports each call as
// ended (reason node-lost), hands the dead node's unacknowledged webhooks to
// this node's delivery (through onLost), and removes the node. Runs after each
// heartbeat; a reap in progress is not started twice.
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { ClusterCallRecord, NodeRegistry } from './node-registry.ts';
import type { RedisLink } from './redis-link.ts';

export type NodeLostHandler = (nodeId: string, calls: ClusterCallRecord[]) => Promise<void>;

const REAP_LOCK_MS = 30_000;

export class NodeReaper {
  private running = false;

  constructor(
    private readonly link: RedisLink,
    private readonly registry: NodeRegistry,
    private readonly onLost: NodeLostHandler,
    private readonly log: Logger,
  ) {}

  async sweep(): Promise<void> {
    if (this.running || !this.link.isUp) return;
    this.running = true;
    try {
      for (const id of await this.registry.silentNodes()) await this.reap(id);
    } finally {
      this.running = false;
    }
  }

  private async reap(id: string): Promise<void> {
    const got = await this.link.client.set(keys.reap(id), this.registry.id, 'PX', REAP_LOCK_MS, 'NX');
    if (got !== 'OK') return;
    const raw = await this.link.client.hgetall(keys.nodeCalls(id));
    const calls: ClusterCallRecord[] = [];
    for (const v of Object.values(raw)) {
      try {
        calls.push(JSON.parse(v) as ClusterCallRecord);
      } catch {
        // a foreign value
      }
    }
    this.log.warn({ node: id, calls: calls.length }, 'node gone: reporting its calls as ended, taking over its webhooks');
    await this.onLost(id, calls);
    // The node may have come back meanwhile (a long Redis outage, not a death): then leave it be.
    const back = await this.link.client.exists(keys.node(id));
    if (back) {
      this.log.warn({ node: id }, 'node came back while it was reaped');
      return;
    }
    await this.link.client.multi().del(keys.nodeCalls(id)).srem(keys.nodes, id).exec();
    // Entries its journal still holds (a move failed half-way): left for the node's own next start.
  }
}
