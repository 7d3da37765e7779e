// The room's side of its hub, wherever the room runs: a HubPublisher beside a
// LocalMediaRoom (same thread), or one inside the media thread that runs a
// RemoteMediaRoom, driven by small hub.* messages (never per packet).
// MediaEngine.openHub() uses either the same way.
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import type { Logger } from '../util/logger.ts';
import { HubPublisher, type HubPublisherControl } from './hub-publisher.ts';
import type { LocalMediaRoom } from './media-room.ts';
import type { RemoteMediaRoom } from './thread/remote-media-room.ts';
import type { HubCall } from './thread/protocol.ts';

export interface HubSide {
  /** The publisher's socket (where the hub's transports send, and what they accept). */
  address: { ip: string; port: number };
  control: HubPublisherControl;
  /** The hub is up: the publisher joins the room (taps its mix and legs). */
  attach(): void;
  /** The hub closed (or was never made): the publisher closes; the room goes on. */
  detach(): void;
}

export async function localHubSide(
  room: LocalMediaRoom,
  ip: string,
  log: Logger,
  requestLeg: (legId: string, codec: CodecName) => void,
  inputTalk: (id: string, talking: boolean) => void,
): Promise<HubSide> {
  const publisher = await HubPublisher.open({ ip, log, requestLeg, inputTalk });
  return {
    address: publisher.local,
    control: publisher,
    attach: () => room.attachPublisher(publisher),
    detach: () => room.detachPublisher(publisher),
  };
}

export async function remoteHubSide(
  room: RemoteMediaRoom,
  requestLeg: (legId: string, codec: CodecName) => void,
  inputTalk: (id: string, talking: boolean) => void,
): Promise<HubSide> {
  const thread = room.thread;
  const roomId = room.id;
  const address = await thread.request<{ ip: string; port: number }>({ type: 'hub.open', roomId });
  room.hubRequestLeg = requestLeg;
  room.hubInputTalk = inputTalk;
  const call = (c: HubCall): void => thread.send({ type: 'hub.control', roomId, call: c });
  return {
    address,
    control: {
      start: (link) => call({ op: 'start', link }),
      setLeg: (legId, stream) => call({ op: 'setLeg', legId, stream }),
      setMixConsumed: (on) => call({ op: 'setMixConsumed', on }),
      setLegConsumed: (legId, on) => call({ op: 'setLegConsumed', legId, on }),
      addInput: (input) => call({ op: 'addInput', input }),
      removeInput: (id) => call({ op: 'removeInput', id }),
      setInputOutput: (id, output) => call({ op: 'setInputOutput', id, output }),
      updateInput: (id, change) => call({ op: 'updateInput', id, change }),
    },
    // The thread attaches its publisher on 'start'.
    attach: () => undefined,
    detach: () => {
      room.hubRequestLeg = null;
      room.hubInputTalk = null;
      thread.send({ type: 'hub.close', roomId });
    },
  };
}
