// Node death: a node in the set of nodes whose entry has expired is silent:
// dead, or only cut off from Redis for longer than its TTL. Before reporting it,
// a survivor asks the node itself (GET /cluster/alive on the API address it
// registered, with the cluster's token): a node that answers with the same run
// id is alive and is left alone (logged, asked again at later sweeps; its calls
// go on and it reports them itself). Otherwise one survivor, the one that takes
// the short reap lock, reads the dead node's call hash, reports each call as
// ended (reason node-lost), hands the dead node's unacknowledged webhooks to
// this node's delivery (through onLost), and removes the node. Runs after each
// heartbeat; a reap in progress is not started twice.
// A node that is cut off from both Redis and its peers' API (a real network
// partition) cannot be told from a dead one: it is reported lost.
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { ClusterCallRecord, NodeRegistry } from './node-registry.ts';
import type { RedisLink } from './redis-link.ts';

export type NodeLostHandler = (nodeId: string, calls: ClusterCallRecord[]) => Promise<void>;
/** Asks a silent node whether it is alive (same run id); false when it does not answer. */
export type NodeProbe = (nodeId: string, api: string, run: string) => Promise<boolean>;

const REAP_LOCK_MS = 30_000;
/** A silent node found alive is asked again after this long. */
const PROBE_EVERY_MS = 1000;

export class NodeReaper {
  private running = false;
  /** Silent nodes that answered their probe: when, to ask again later and log once. */
  private readonly aliveSince = new Map<string, { checkedAt: number }>();
  probe: NodeProbe | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly registry: NodeRegistry,
    private readonly onLost: NodeLostHandler,
    private readonly log: Logger,
  ) {}

  /** Silent nodes found alive by their probe since they went silent. */
  get silentButAlive(): string[] {
    return [...this.aliveSince.keys()];
  }

  async sweep(): Promise<void> {
    if (this.running || !this.link.isUp) return;
    this.running = true;
    try {
      const silent = await this.registry.silentNodes();
      for (const id of this.aliveSince.keys()) {
        if (!silent.includes(id)) {
          this.aliveSince.delete(id);
          this.log.info({ node: id }, 'node registered again after being silent in redis');
        }
      }
      for (const id of silent) if (!(await this.alive(id))) await this.reap(id);
    } finally {
      this.running = false;
    }
  }

  private async alive(id: string): Promise<boolean> {
    if (!this.probe) return false;
    const seen = this.aliveSince.get(id);
    if (seen && Date.now() - seen.checkedAt < PROBE_EVERY_MS) return true;
    const addr = await this.registry.address(id);
    if (!addr) return false;
    const ok = await this.probe(id, addr.api, addr.run).catch(() => false);
    if (!ok) {
      if (seen) this.log.warn({ node: id }, 'a silent node that answered before does not answer any more');
      this.aliveSince.delete(id);
      return false;
    }
    if (!seen) this.log.warn({ node: id, api: addr.api }, 'node silent in redis but its API answers: not reported lost (cut off from redis?); asked again later');
    this.aliveSince.set(id, { checkedAt: Date.now() });
    return true;
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
    await this.link.client.multi().del(keys.nodeCalls(id)).del(keys.nodeAddr(id)).srem(keys.nodes, id).exec();
    // Entries its journal still holds (a move failed half-way): left for the node's own next start.
  }
}
