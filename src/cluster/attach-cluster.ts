// The few points where a cluster node hooks into a Parley process: the INVITE
// gate and the call registry on the call manager, room leases on the
// conference manager. Returns a function that detaches the listeners.
import type { ActiveCall, CallManager } from '../call/call-manager.ts';
import type { ConferenceManager } from '../call/conference/conference-manager.ts';
import type { RoutingTable } from '../policy/routing-table.ts';
import type { ClusterNode } from './cluster-node.ts';
import { roomBeforeAnswer } from './flow-room.ts';

export function attachCluster(node: ClusterNode, calls: CallManager, conferences: ConferenceManager, routing: RoutingTable): () => void {
  calls.setGate(node.gate);
  conferences.setOwnership(node);
  const onStart = (a: ActiveCall): void => {
    const room = roomBeforeAnswer(routing.flows, a.flow) ?? undefined;
    node.callStarted({ callId: a.call.callId, flow: a.flow, from: a.call.from.uri, to: a.call.originalTo.uri, startedAt: a.startedAt.toISOString(), room });
  };
  const onEnd = (a: ActiveCall): void => node.callEnded(a.call.callId);
  calls.on('callstart', onStart);
  calls.on('callend', onEnd);
  return () => {
    calls.off('callstart', onStart).off('callend', onEnd);
    calls.setGate(null);
    conferences.setOwnership(null);
  };
}
