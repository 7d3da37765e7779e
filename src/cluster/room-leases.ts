// Room ownership: one node holds a room through a lease in Redis, created with
// SET NX PX (inside a script that also draws the room's ownership epoch from a
// counter), renewed by its owner with every heartbeat, and deleted only by its
// owner (compare-and-delete: a node whose lease lapsed and was taken by another
// cannot delete the new owner's). A lease's value is `<nodeId> <epoch>`; beside
// it, in the same scripts and with the same expiry, `parley:owner:<room>` holds
// the owner's SIP address as plain text for the upstream Kamailio (ndb_redis).
//
// Locally a held lease counts its holders: each call the INVITE gate admitted
// for the room (until the call is over) and the open room itself. The lease is
// released when the last holder lets go.
//
// A held lease is only trusted until `leaseMs` after its last successful claim or
// renewal was sent (Redis cannot have expired it before). Past that (Redis
// unreachable or too slow), the room's calls go on but the node takes no new
// join for it (claim rejects: 503, the upstream tries another node). At the next
// renewal that reaches Redis a lapsed lease is re-created with the same epoch if
// the room is still free; if another node took the room meanwhile, this node
// gives the lease up: its own room goes on with the calls already in it until
// they end (two rooms of that name exist until then, told apart by their epochs),
// new INVITEs for the room are redirected to the new owner (a join after an
// answer is piped there: ConferenceManager asks ownerOf), and the conflict is
// counted and logged.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';
import { keys } from './cluster-keys.ts';
import type { RedisLink } from './redis-link.ts';

// KEYS: lease, epoch counter, owner address. ARGV: node id, lease ms, SIP address.
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
local e = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. ' ' .. e
redis.call('SET', KEYS[1], v, 'NX', 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
return v`;

// 1: renewed; 2: had lapsed, re-created (and the epoch counter kept above it); else the other owner's lease value.
// KEYS: lease, epoch counter, owner address. ARGV: lease value, lease ms, epoch, SIP address.
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[2])
  return 1
end
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
return 2`;

// KEYS: lease, owner address. ARGV: lease value.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
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

/** A room this node holds whose lease it could not renew in time: no new joins until it is renewed. */
export class LeaseNotRenewedError extends ClusterUnavailableError {
  override name = 'LeaseNotRenewedError';
}

interface Held {
  epoch: number;
  holders: number;
  /** performance.now() until which Redis cannot have expired the lease (last successful claim or renewal sent + leaseMs). */
  validUntil: number;
}

export function parseLease(room: string, value: string): Lease {
  const [owner = '', epoch = '0'] = value.split(' ');
  return { room, owner, epoch: Number(epoch) };
}

export class RoomLeases {
  private readonly held = new Map<string, Held>();
  /** Renewals that found another owner (a room taken while this node could not renew it). */
  conflicts = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
    /** This node's SIP address (host:port), written beside each lease for Kamailio. */
    private readonly sipAddress = '',
  ) {}

  /** Whether this node holds the room's lease and Redis cannot have expired it. */
  holds(room: string): boolean {
    const h = this.held.get(room);
    return h !== undefined && performance.now() < h.validUntil;
  }

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
      if (performance.now() >= h.validUntil) throw new LeaseNotRenewedError(`the lease of room ${room} could not be renewed: no new join now`);
      h.holders++;
      return { room, owner: this.nodeId, epoch: h.epoch };
    }
    if (!this.link.isUp) throw new ClusterUnavailableError('redis is unreachable: no new room now');
    let value: string;
    const sentAt = performance.now();
    try {
      value = (await this.link.client.eval(CLAIM, 3, keys.room(room), keys.epoch, keys.owner(room), this.nodeId, String(this.leaseMs), this.sipAddress)) as string;
    } catch (err) {
      throw new ClusterUnavailableError(`redis: ${(err as Error).message}`);
    }
    const lease = parseLease(room, value);
    if (lease.owner !== this.nodeId) return lease;
    // Another claim of ours may have finished while this one awaited.
    const again = this.held.get(room);
    if (again) again.holders++;
    else {
      this.held.set(room, { epoch: lease.epoch, holders: 1, validUntil: sentAt + this.leaseMs });
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
      .eval(RELEASE, 2, keys.room(room), keys.owner(room), `${this.nodeId} ${h.epoch}`)
      .catch((err: unknown) => this.log.warn({ err, room }, 'lease release failed; it lapses by itself'));
  }

  /** Renews every held lease in one pipeline (the heartbeat calls it). */
  async renewAll(): Promise<void> {
    if (this.held.size === 0 || !this.link.isUp) return;
    const rooms = [...this.held];
    const p = this.link.client.pipeline();
    for (const [room, h] of rooms) p.eval(RENEW, 3, keys.room(room), keys.epoch, keys.owner(room), `${this.nodeId} ${h.epoch}`, String(this.leaseMs), String(h.epoch), this.sipAddress);
    const sentAt = performance.now();
    const results = (await p.exec()) ?? [];
    results.forEach(([err, res], i) => {
      const [room, h] = rooms[i]!;
      if (err) {
        this.log.warn({ err, room }, 'lease renewal failed');
        return;
      }
      if (this.held.get(room) !== h) return; // released meanwhile
      const lapsed = performance.now() >= h.validUntil;
      if (res === 1 || res === 2) {
        h.validUntil = sentAt + this.leaseMs;
        if (res === 2) this.log.warn({ room, epoch: h.epoch }, 'room lease had lapsed (redis outage or restart); re-created with its epoch');
        else if (lapsed) this.log.warn({ room, epoch: h.epoch }, 'room lease renewed again after a gap; the room takes joins again');
        return;
      }
      // Another node took the room while this one could not renew it: give the lease up.
      this.conflicts++;
      this.held.delete(room);
      const other = parseLease(room, String(res));
      this.log.error(
        { room, epoch: h.epoch, owner: other.owner, ownerEpoch: other.epoch },
        'room taken by another node while this node could not renew its lease: the calls in this node\'s room go on until they end; new INVITEs for the room go to the new owner',
      );
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
