// The cluster's say on a new INVITE, before Parley answers it (hooked into
// CallManager.take): an INVITE headed for a room (flow-room.ts) is taken here
// when this node owns the room or has just claimed it, and redirected (302,
// Contact = the owner's SIP address with the same user part) when another node
// owns it; a node that is draining or cut off from Redis refuses new rooms with
// 503 so that the upstream proxy tries the next node, and so does a node whose
// lease of the room could not be renewed in time (503 Room Lease Not Renewed). Calls that join no room
// are not the cluster's business (admission decides, as on a lone node).
import type { FlowsConfig } from '../call/flow-types.ts';
import { sipUriOrNull } from '../sip/message/header-values.ts';
import type { Logger } from '../util/logger.ts';
import { roomBeforeAnswer } from './flow-room.ts';
import type { NodeRegistry } from './node-registry.ts';
import { ClusterUnavailableError, LeaseNotRenewedError, type RoomLeases } from './room-leases.ts';

export type GateDecision =
  /** Run the call here. exemptFromDrain: it joins a room this node owns (accepted while draining). release: call once when the call is over (or never ran). */
  | { kind: 'local'; room: string | null; epoch: number | null; exemptFromDrain: boolean; release: () => void; ownership: { node: string; room: string; epoch: number } | null }
  | { kind: 'redirect'; room: string; owner: string; contact: string }
  | { kind: 'refuse'; status: number; reason: string; retryAfter: number };

export interface GateStats {
  local: number;
  redirected: number;
  refused: number;
}

const noop = (): void => {};

export class InviteGate {
  readonly stats: GateStats = { local: 0, redirected: 0, refused: 0 };

  constructor(
    private readonly leases: RoomLeases,
    private readonly registry: NodeRegistry,
    private readonly log: Logger,
  ) {}

  async decide(flows: FlowsConfig, flow: string, requestUri: string): Promise<GateDecision> {
    const room = roomBeforeAnswer(flows, flow);
    if (room === null) {
      this.stats.local++;
      return { kind: 'local', room: null, epoch: null, exemptFromDrain: false, release: noop, ownership: null };
    }
    const draining = this.registry.state === 'draining';
    try {
      const held = this.leases.local(room);
      if (!held && draining) {
        const owner = await this.leases.owner(room);
        if (!owner) return this.refuse(room, 'Draining', 5);
        return await this.redirect(room, owner.owner, requestUri);
      }
      const lease = await this.leases.claim(room);
      if (lease.owner === this.registry.id) {
        this.stats.local++;
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          this.leases.release(room);
        };
        return { kind: 'local', room, epoch: lease.epoch, exemptFromDrain: true, release, ownership: { node: this.registry.id, room, epoch: lease.epoch } };
      }
      return await this.redirect(room, lease.owner, requestUri);
    } catch (err) {
      // A room held here whose lease could not be renewed in time: the upstream tries another node.
      if (err instanceof LeaseNotRenewedError) return this.refuse(room, 'Room Lease Not Renewed', 1);
      if (err instanceof ClusterUnavailableError) return this.refuse(room, 'Cluster Unavailable', 5);
      this.log.warn({ err, room }, 'room owner lookup failed');
      return this.refuse(room, 'Cluster Unavailable', 5);
    }
  }

  private async redirect(room: string, owner: string, requestUri: string): Promise<GateDecision> {
    const entry = await this.registry.entry(owner);
    if (!entry) {
      // The owner is dead and its lease has not lapsed yet: the room moves when it does.
      return this.refuse(room, 'Room Owner Lost', 1);
    }
    this.stats.redirected++;
    const user = sipUriOrNull(requestUri)?.user;
    const contact = `sip:${user ? `${user}@` : ''}${entry.sip}`;
    this.log.info({ room, owner, contact }, 'redirecting the INVITE to the room owner');
    return { kind: 'redirect', room, owner, contact };
  }

  private refuse(room: string, reason: string, retryAfter: number): GateDecision {
    this.stats.refused++;
    this.log.info({ room, reason }, 'new room refused');
    return { kind: 'refuse', status: 503, reason, retryAfter };
  }
}
