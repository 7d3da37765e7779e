// Webhooks delivered once across the cluster. Each node journals the events
// its hooks want in its own Redis hash (delivery id → event) before it sends
// them (WebhookSender: retries, dead letter), and deletes an entry once every
// delivery of it is settled. The node also keeps its unsettled events in
// memory, so after a Redis restart (an empty Redis) it writes its journal
// again, as the registry does with its calls. When a node dies, the survivor
// that reaps it moves each journal entry to its own journal (one atomic
// move per entry: two survivors can never both take one) and sends it with the
// same delivery id. A node that leaves cleanly with deliveries still pending
// leaves its journal behind for the others to take the same way. While Redis is
// unreachable events go to the local sender and its file spool instead
// (nothing is lost; their delivery is then this node's alone). A receiver can
// still see an event twice if a node dies between the receiver's 2xx and the
// journal's delete: the X-Parley-Delivery id is the same both times, for it to
// drop the second.
import { randomUUID } from 'node:crypto';
import type { ApiEvent } from '../api/event-hub.ts';
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { RedisLink } from './redis-link.ts';

// Moves one entry from a dead node's journal to this node's; 0 when another node took it first.
const MOVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], v)
return v`;

export interface WebhookSink {
  wants(type: ApiEvent['type']): boolean;
  handle(event: ApiEvent, journaled?: { id: string; settled: () => void }): void;
  /** Whether a delivery is in flight (or its outcome not yet booked). */
  busy?(): boolean;
}

export class ClusterWebhooks {
  /** Unsettled journaled events, by delivery id. */
  private readonly pending = new Map<string, ApiEvent>();
  private resync = false;
  /** Events whose journal write (HSET) is not answered yet: they are sent once it is. */
  private journaling = 0;
  /** Journal deletes of settled deliveries not yet answered by Redis. */
  private readonly deleting = new Set<Promise<unknown>>();
  private closed = false;
  /** Entries taken over from dead nodes (for tests and the bench). */
  takenOver = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly nodeId: string,
    private readonly sink: WebhookSink,
    private readonly log: Logger,
  ) {
    link.on('up', () => {
      this.resync = true;
      this.rewrite().catch((err: unknown) => this.log.warn({ err }, 'webhook journal not rewritten; next time Redis is up'));
    });
  }

  get journal(): string {
    return keys.nodeWebhooks(this.nodeId);
  }

  /** Deliveries journaled and not settled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** An event from this node's hub: journaled, then sent; or sent from the local spool while Redis is away. */
  publish(event: ApiEvent): void {
    if (this.closed || !this.sink.wants(event.type)) return;
    if (!this.link.isUp) {
      this.sink.handle(event);
      return;
    }
    const id = randomUUID();
    this.pending.set(id, event);
    this.journaling++;
    this.link.client.hset(this.journal, id, JSON.stringify(event)).then(
      () => {
        this.journaling--;
        this.send(id, event);
      },
      (err: unknown) => {
        this.journaling--;
        // Not journaled: this node's file spool keeps it instead.
        this.pending.delete(id);
        this.log.warn({ err, event: event.type }, 'webhook journal unreachable; delivering from the local spool');
        this.sink.handle(event);
      },
    );
  }

  /** A node's journal (a dead one's, or this node's own from a previous run): entries moved here one by one, then sent. */
  async takeOver(node: string): Promise<number> {
    const from = keys.nodeWebhooks(node);
    const ids = await this.link.client.hkeys(from);
    let n = 0;
    for (const id of ids) {
      if (this.closed) break;
      const v = (await this.link.client.eval(MOVE, 2, from, this.journal, id)) as string | null;
      if (!v || this.pending.has(id)) continue;
      let event: ApiEvent;
      try {
        event = JSON.parse(v) as ApiEvent;
      } catch {
        this.log.error({ id, node }, 'unreadable webhook journal entry dropped');
        await this.link.client.hdel(this.journal, id);
        continue;
      }
      this.pending.set(id, event);
      this.send(id, event);
      n++;
    }
    if (n > 0) this.log.warn({ node, entries: n }, node === this.nodeId ? 'resumed this node\'s journaled webhooks' : 'took over a lost node\'s pending webhooks');
    if (node !== this.nodeId) this.takenOver += n;
    return n;
  }

  /**
   * A clean stop, before the node leaves: waits (up to `timeoutMs`) until every event
   * journaled so far is settled, or until the only ones left are waiting to retry (none
   * being journaled, none in flight), and for their journal deletes. Otherwise a delivery
   * the receiver took as the node stopped (its request aborted by the stop, or sent
   * just after the node left) stayed journaled, and a survivor sent it a second time.
   */
  async quiesce(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < until) {
      if (this.journaling === 0 && !(this.sink.busy?.() ?? false)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.allSettled([...this.deleting]);
  }

  /** Synchronous, idempotent: nothing more is journaled; unsettled entries stay in Redis for the others (or this node's next start). */
  close(): void {
    this.closed = true;
  }

  private send(id: string, event: ApiEvent): void {
    this.sink.handle(event, { id, settled: () => this.settled(id) });
  }

  private settled(id: string): void {
    this.pending.delete(id);
    if (!this.link.isUp) return; // the rewrite after the outage leaves it out
    const del = this.link.client.hdel(this.journal, id).catch(() => {
      this.resync = true;
    });
    this.deleting.add(del);
    void del.finally(() => this.deleting.delete(del));
  }

  /** After Redis came back (possibly empty): the journal is what this node still has pending. */
  private async rewrite(): Promise<void> {
    if (!this.resync || this.closed) return;
    const flat: string[] = [];
    for (const [id, e] of this.pending) flat.push(id, JSON.stringify(e));
    const m = this.link.client.multi().del(this.journal);
    if (flat.length > 0) m.hset(this.journal, ...flat);
    await m.exec();
    this.resync = false;
  }
}
