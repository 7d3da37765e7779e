// The messages between the main thread and a media thread: small typed
// unions over the worker's MessagePort, never one per packet. Audio crosses
// in SharedArrayBuffer rings (frame-ring.ts, tick-ring.ts); stats cross in
// one batched snapshot per thread about once a second.
// What one side sends synchronously leaves as one post (message-batcher.ts: a
// 'batch' of them, handled in order).
import type { MediaConfig } from '../../config/schema.ts';
import type { DtmfEvent } from '../../dtmf/dtmf-event.ts';
import type { ClockStats } from '../../mixer/mix-clock.ts';
import type { TwoPartyStats } from '../../mixer/two-party-forwarder.ts';
import type { EndpointView, MediaLegCloseReason, MediaRoomCloseReason, ParticipantView } from '../media-api.ts';
import type { RtcpStats } from '../rtcp/index.ts';
import type { LatchMode } from '../rtp-endpoint.ts';
import type { Direction, IpFamily, NegotiatedAudio } from '../sdp-types.ts';
import type { HubInputChange, HubInputOutput, HubInputStream, HubLegStream, HubLink } from '../hub-publisher.ts';
import type { CodecName } from '../../mixer/codecs/audio-codec.ts';

/** What a media thread is started with (workerData). */
export interface MediaThreadInit {
  index: number;
  config: MediaConfig & { latching: LatchMode };
  /** This thread's share of media.rtpPortRange. */
  ports: { min: number; max: number };
  cname: string;
  logLevel: string;
  /** log.pretty (or --pretty): the thread's lines are human-readable too, as the main thread's. */
  logPretty: boolean;
  /** The bundle of the thread's code to load (its URL), when current (thread-bundle.mjs); null: the TypeScript, through tsx. */
  bundle: string | null;
}

/** A HubPublisherControl call, to the publisher in the thread. */
export type HubCall =
  | { op: 'start'; link: HubLink }
  | { op: 'setLeg'; legId: string; stream: HubLegStream | null }
  | { op: 'setMixConsumed'; on: boolean }
  | { op: 'setLegConsumed'; legId: string; on: boolean }
  | { op: 'addInput'; input: HubInputStream }
  | { op: 'removeInput'; id: string }
  | { op: 'setInputOutput'; id: string; output: HubInputOutput | null }
  | { op: 'updateInput'; id: string; change: HubInputChange };

export interface LegRole {
  muted?: boolean;
  deaf?: boolean;
  hidden?: boolean;
  audience?: string[] | null;
  inband?: boolean | 'auto';
  /** Where the leg's telephone-event packets go on to (another leg of the room), null: nowhere. */
  dtmfTo?: string | null;
}

/** Main → media thread. Those with `req` are answered by one 'reply'. */
export type MediaCommand =
  /** Not answered (the first leg's command follows it in order); a failure comes back as 'room.failed'. */
  | { type: 'room.create'; roomId: string }
  | { type: 'room.close'; roomId: string; reason: MediaRoomCloseReason }
  | { type: 'room.playOut'; req: number; roomId: string; maxTicks: number }
  | { type: 'leg.create'; req: number; roomId: string; legId: string; slot: number; offer: string; inbandDtmf: boolean; recordOnlyMs: number | null }
  | { type: 'leg.createOutgoing'; req: number; roomId: string; legId: string; slot: number; srtp: boolean; family: IpFamily; inbandDtmf: boolean; recordOnlyMs: number | null }
  | { type: 'leg.applyOffer'; req: number; roomId: string; legId: string; offer: string }
  | { type: 'leg.applyAnswer'; req: number; roomId: string; legId: string; answer: string }
  | { type: 'leg.makeReoffer'; req: number; roomId: string; legId: string; direction?: Direction }
  | { type: 'leg.role'; roomId: string; legId: string; role: LegRole }
  | { type: 'leg.digit'; roomId: string; legId: string; digit: string; durationMs: number; inband: boolean }
  | { type: 'leg.watch'; roomId: string; legId: string }
  | { type: 'leg.close'; roomId: string; legId: string }
  /** A FrameSource on the main thread, pumped into `ring`; legId null: the whole room. */
  | { type: 'source.play'; roomId: string; legId: string | null; sourceId: number; ring: SharedArrayBuffer; sampleRate: number }
  /** The source stopped on the main thread (barge-in, stop()): drop what is buffered, now. */
  | { type: 'source.clear'; sourceId: number }
  /** A TickSink on the main thread, fed from `ring`. */
  | { type: 'sink.add'; roomId: string; sinkId: number; ring: SharedArrayBuffer; sampleRate: number }
  | { type: 'sink.remove'; roomId: string; sinkId: number }
  /** The room's hub publisher: its socket is opened (reply: its address), driven, closed. */
  | { type: 'hub.open'; req: number; roomId: string }
  | { type: 'hub.control'; roomId: string; call: HubCall }
  | { type: 'hub.close'; roomId: string }
  /** A stats snapshot now (besides the one every second). */
  | { type: 'stats' }
  /** Test only: the thread throws from its event loop (an uncaught error), as a bug would. */
  | { type: 'crash' }
  /**
   * Engine close: the thread closes what it still runs (every socket), stops its timers and
   * lets its event loop end, so nothing is received while it ends (Node aborts the whole
   * process when a worker being terminated gets a UDP datagram: node::AddressToJS fails).
   */
  | { type: 'shutdown' }
  /** Test only: the thread blocks for `ms` (busy, as in a long GC pause or on a starved machine): its timers and sockets wait. */
  | { type: 'stall'; ms: number };

export interface LegInfo {
  ssrc: number;
  localSdp: string;
  media: NegotiatedAudio | null;
  endpoint: EndpointView | null;
  participant: ParticipantView | null;
}

export interface LegSnapshot {
  legId: string;
  endpoint: EndpointView | null;
  rtcpStats: RtcpStats | null;
  participant: ParticipantView | null;
}

export interface RoomSnapshot {
  roomId: string;
  sampleRate: number;
  mixerStats: ClockStats;
  forwardStats: TwoPartyStats;
  legs: LegSnapshot[];
}

export interface SerializedError {
  name: string;
  message: string;
  warning?: number;
}

/** Media thread → main. */
export type MediaEvent =
  /** `entry`: the thread runs the bundle scripts/build-media-thread.mjs made, or the TypeScript (media-thread-boot.mjs). */
  | { type: 'ready'; entry: 'bundle' | 'source'; opus: string }
  | { type: 'reply'; req: number; ok: true; value: unknown }
  | { type: 'reply'; req: number; ok: false; error: SerializedError }
  | { type: 'leg.dtmf'; roomId: string; legId: string; event: DtmfEvent }
  | { type: 'leg.talk'; roomId: string; legId: string; talking: boolean }
  | { type: 'leg.inboundssrc'; roomId: string; legId: string; ssrc: number }
  | { type: 'leg.mediatimeout'; roomId: string; legId: string; seconds: number }
  | { type: 'leg.closed'; roomId: string; legId: string; reason: MediaLegCloseReason }
  | { type: 'room.closed'; roomId: string; reason: MediaRoomCloseReason }
  /** 'room.create' failed: main closes the room (and with it whatever was asked of it meanwhile). */
  | { type: 'room.failed'; roomId: string; error: SerializedError }
  /** The publisher needs a Producer for a leg's stream (its first audio, or a new codec). */
  | { type: 'hub.requestLeg'; roomId: string; legId: string; codec: CodecName }
  /** A hub input (a browser) started or stopped talking (a message per change, never per packet). */
  | { type: 'hub.inputTalk'; roomId: string; id: string; talking: boolean }
  /** The thread is done with a source: it played its last frame ('done') or was stopped there (leg or room closed). */
  | { type: 'source.done'; sourceId: number; stopped: boolean }
  /** A sink's ring names a leg by this small number from now on (posted before the first record that uses it). */
  | { type: 'sink.slot'; sinkId: number; slot: number; legId: string }
  /** resampledFrames: Resampler.framesRun on the thread (frames resampled there since it started). */
  | { type: 'stats'; rooms: RoomSnapshot[]; portsInUse: number; resampledFrames: number };

