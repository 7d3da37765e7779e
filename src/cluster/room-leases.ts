// Room ownership: one node holds a room through a lease in Redis, created with
// SET NX PX (inside a script that also draws the room's ownership epoch from a
// counter), renewed by its owner with every heartbeat, and deleted only by its
// owner (compare-and-delete: a node whose lease lapsed and was taken by another
// cannot delete the new owner's). A lease's value is `<nodeId> <epoch>`.
//
// Locally a held lease counts its holders: each call the INVITE gate admitted
// for the room (until the call is over) and the open room itself. The lease is
// released when the last holder lets go. While Redis is unreachable held rooms
// go on (their leases may lapse); at the next renewal a lapsed lease is
// re-created with the same epoch, unless another node took the room meanwhile:
// that is logged as a conflict (two owners) and counted.
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { RedisLink } from './redis-link.ts';

const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
local e = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. ' ' .. e
redis.call('SET', KEYS[1], v, 'NX', 'PX', ARGV[2])
return v`;

// 1: renewed; 2: had lapsed, re-created (and the epoch counter kept above it); 0: another owner.
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
return 2`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface Lease {
  room: string;
  owner: string;
  epoch: number;
}

/** Why a room could not be claimed: Redis is unreachable (try later, 503). */
export class ClusterUnavailableError extends Error {
  override name = 'ClusterUnavailableError';
  readonly status = 503;
}

interface Held {
  epoch: number;
  holders: number;
}

export function parseLease(room: string, value: string): Lease {
  const [owner = '', epoch = '0'] = value.split(' ');
  return { room, owner, epoch: Number(epoch) };
}

export class RoomLeases {
  private readonly held = new Map<string, Held>();
  /** Renewals that found another owner (should stay 0). */
  conflicts = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  /** Rooms this node holds, with their epochs. */
  get rooms(): ReadonlyMap<string, { epoch: number; holders: number }> {
    return this.held;
  }

  /** The held lease of a room, if this node holds it. */
  local(room: string): Lease | null {
    const h = this.held.get(room);
    return h ? { room, owner: this.nodeId, epoch: h.epoch } : null;
  }

  /**
   * Claims the room or finds its owner. When this node owns it (now or already),
   * one holder is added: the caller must call release(room) once. Rejects with
   * ClusterUnavailableError while Redis is unreachable (unless held here already).
   */
  async claim(room: string): Promise<Lease> {
    const h = this.held.get(room);
    if (h) {
      h.holders++;
      return { room, owner: this.nodeId, epoch: h.epoch };
    }
    if (!this.link.isUp) throw new ClusterUnavailableError('redis is unreachable: no new room now');
    let value: string;
    try {
      value = (await this.link.client.eval(CLAIM, 2, keys.room(room), keys.epoch, this.nodeId, String(this.leaseMs))) as string;
    } catch (err) {
      throw new ClusterUnavailableError(`redis: ${(err as Error).message}`);
    }
    const lease = parseLease(room, value);
    if (lease.owner !== this.nodeId) return lease;
    // Another claim of ours may have finished while this one awaited.
    const again = this.held.get(room);
    if (again) again.holders++;
    else {
      this.held.set(room, { epoch: lease.epoch, holders: 1 });
      this.log.info({ room, epoch: lease.epoch }, 'room lease taken');
    }
    return lease;
  }

  /** The owner of a room as Redis says now (null: nobody). */
  async owner(room: string): Promise<Lease | null> {
    const local = this.local(room);
    if (local) return local;
    const v = await this.link.client.get(keys.room(room));
    return v ? parseLease(room, v) : null;
  }

  /** One holder lets go; the last one deletes the lease (compare-and-delete). */
  release(room: string): void {
    const h = this.held.get(room);
    if (!h) return;
    if (--h.holders > 0) return;
    this.held.delete(room);
    this.log.info({ room, epoch: h.epoch }, 'room lease released');
    if (!this.link.isUp) return; // it lapses by itself
    this.link.client
      .eval(RELEASE, 1, keys.room(room), `${this.nodeId} ${h.epoch}`)
      .catch((err: unknown) => this.log.warn({ err, room }, 'lease release failed; it lapses by itself'));
  }

  /** Renews every held lease in one pipeline (the heartbeat calls it). */
  async renewAll(): Promise<void> {
    if (this.held.size === 0 || !this.link.isUp) return;
    const rooms = [...this.held];
    const p = this.link.client.pipeline();
    for (const [room, h] of rooms) p.eval(RENEW, 2, keys.room(room), keys.epoch, `${this.nodeId} ${h.epoch}`, String(this.leaseMs), String(h.epoch));
    const results = (await p.exec()) ?? [];
    results.forEach(([err, res], i) => {
      const [room, h] = rooms[i]!;
      if (err) this.log.warn({ err, room }, 'lease renewal failed');
      else if (res === 2) this.log.warn({ room, epoch: h.epoch }, 'room lease had lapsed (redis outage or restart); re-created');
      else if (res === 0) {
        this.conflicts++;
        this.log.error({ room, epoch: h.epoch }, 'room lease taken by another node while it lapsed: the room has two owners until one ends');
      }
    });
  }

  /** Forgets every lease (process close): they lapse in Redis by themselves, or are deleted now when Redis is up. */
  releaseAll(): void {
    for (const [room, h] of this.held) {
      h.holders = 1;
      this.release(room);
    }
  }
}
