// The few points where a cluster node hooks into a Parley process: the INVITE
// gate and the call registry on the call manager, room leases on the
// conference manager. Returns a function that detaches the listeners.
import type { ActiveCall, CallManager } from '../call/call-manager.ts';
import type { ConferenceManager } from '../call/conference/conference-manager.ts';
import type { RoutingTable } from '../policy/routing-table.ts';
import type { MediaEngine } from '../media-plane/media-engine.ts';
import type { Logger } from '../util/logger.ts';
import type { ClusterNode } from './cluster-node.ts';
import { roomBeforeAnswer } from './flow-room.ts';
import { PipeAcceptor, pipeCallToOwner } from './room-pipe.ts';

export interface PipeSettings {
  media: MediaEngine;
  /** The address pipes listen on (media.announcedIp or media.rtpIp). */
  listenIp: string;
  /** The API token, to ask the owner for a pipe. */
  token: string;
  /** media.rtpTimeoutSec in ms (0: never): a pipe that receives no RTP this long ends (pipe-media-watch.ts). */
  timeoutMs: number;
  log: Logger;
}

export function attachCluster(node: ClusterNode, calls: CallManager, conferences: ConferenceManager, routing: RoutingTable, pipes: PipeSettings): () => void {
  calls.setGate(node.gate);
  node.setPeerToken(pipes.token);
  node.pipes = new PipeAcceptor(pipes.media, conferences, pipes.listenIp, pipes.log, pipes.token, pipes.timeoutMs);
  conferences.setOwnership(node, (call, options, owner) => pipeCallToOwner(node, pipes, call, options, owner, call.log));
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
    node.pipes?.closeAll();
  };
}
