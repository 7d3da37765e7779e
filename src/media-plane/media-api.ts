// The media plane's public surface as call control and the API use it: a room
// and its legs, whether they run on this thread (media.threads: 0) or in a
// media thread behind a proxy (src/media-plane/thread/). One shape, two homes.
import type { TypedEmitter } from '../util/typed-emitter.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import type { FrameSource, TickSink } from '../mixer/frames.ts';
import type { JitterStats } from '../mixer/jitter-buffer.ts';
import type { ClockStats } from '../mixer/mix-clock.ts';
import type { TwoPartyStats } from '../mixer/two-party-forwarder.ts';
import type { RtcpStats } from './rtcp/index.ts';
import type { EndpointStats } from './rtp-endpoint.ts';
import type { Direction, IpFamily, NegotiatedAudio } from './sdp-types.ts';

export type MediaLegCloseReason = 'closed' | 'room-closed';
/** 'media-thread-died': the media thread that ran the room failed (its calls end, Q.850 cause 41). */
export type MediaRoomCloseReason = 'closed' | 'engine-closed' | 'media-thread-died';

export type MediaLegEvents = {
  dtmf: [event: DtmfEvent];
  /** A digit another carrier had already brought (a key sent as INFO and as RFC 4733): no 'dtmf' for it. */
  dtmfrepeat: [event: DtmfEvent];
  talk: [talking: boolean];
  /** The peer's RTP from a new SSRC is now routed to the mixer (the first one means media is flowing). */
  inboundssrc: [ssrc: number];
  /**
   * A watched leg (see watchMedia) sent no RTP nor RTCP for `seconds` while it should
   * have (sendrecv, not on hold): its phone is probably gone. A recording session's
   * record-only streams (recvonly, not paused) report together, once all are that quiet:
   * its SRC is gone. Once per silence.
   */
  mediatimeout: [seconds: number];
  /** A negotiation (an answer, a re-INVITE's offer or answer) changed what the leg carries (`media`). */
  media: [media: Readonly<NegotiatedAudio> | null];
  /** Terminal, exactly once, whoever closed the leg. */
  close: [reason: MediaLegCloseReason];
};

export type MediaRoomEvents = {
  /** A leg closed (any reason): its room has forgotten it; the leg's own 'close' follows. */
  legclose: [leg: MediaLeg];
  /** Terminal, exactly once. */
  close: [reason: MediaRoomCloseReason];
};

export interface CreateLegOptions {
  /** Defaults to a random UUID; call control usually passes the Call-ID. */
  id?: string;
  /** Run Goertzel DTMF detection even if telephone-event was negotiated. */
  inbandDtmf?: boolean;
  /**
   * A leg nobody hears live (a SIPREC stream): a deep jitter buffer of this many ms
   * that plays at that fixed depth and sheds nothing (MixerParticipant), so a burst
   * or stall up to this long is recorded in place; the room's close plays it out.
   */
  recordOnlyMs?: number;
}

export interface CreateOutgoingLegOptions extends CreateLegOptions {
  /** Offer SDES-SRTP (RTP/SAVP). */
  srtp?: boolean;
  /**
   * The family of the target when call control knows it (an IPv6 SIP URI, a
   * caller's IPv6 source): 6 offers IPv6 media when media.rtpIp6 is set; else IPv4.
   */
  family?: IpFamily;
}

/** A leg's RTP endpoint as the API and tests read it (live on the owning thread, a ~1 s snapshot elsewhere). */
export interface EndpointView {
  readonly port: number;
  readonly stats: EndpointStats;
  readonly local: { ip: string; port: number; rtcpPort: number | null };
  readonly hasRtcpPort: boolean;
  readonly destination: { ip: string; port: number } | null;
}

/** A leg's place in the mixer as the API and tests read it. */
export interface ParticipantView {
  readonly muted: boolean;
  readonly deaf: boolean;
  readonly talking: boolean;
  readonly jitterStats: JitterStats;
  readonly codec: CodecName;
  readonly inputSsrc: number | null;
  /** Frames the mixer encoded for this listener (mixed, or transcoded): none while forwarded but `silenceFilled`. */
  readonly encoded: number;
  /** Of those, silence sent while forwarding because the other leg paused. */
  readonly silenceFilled: number;
  /** Packets of the other leg forwarded to this listener untouched (two-party forwarding). */
  readonly forwarded: number;
  /** Audio packets dropped as malformed payloads (Opus packets that break RFC 6716 §3.4: bad framing, 0 frames, over 120 ms, truncated). */
  readonly malformedPayloads: number;
  /** Lost packets rebuilt from the next packet's Opus in-band FEC. */
  readonly opusRecovered: number;
}

export interface MediaLeg extends TypedEmitter<MediaLegEvents> {
  readonly id: string;
  /** The SSRC of everything Parley sends this leg. */
  readonly ssrc: number;
  readonly isClosed: boolean;
  /** The latest SDP this leg produced (answer or offer). */
  readonly localSdp: string;
  readonly media: Readonly<NegotiatedAudio> | null;
  readonly endpoint: EndpointView | null;
  readonly rtcpStats: Readonly<RtcpStats> | null;
  readonly mixerParticipant: ParticipantView | null;
  watchMedia(): void;
  applyOffer(offer: string): Promise<string>;
  applyAnswer(answer: string): Promise<void>;
  /** A full offer on the leg's socket (every codec, telephone-event, the current crypto) for an offerless re-INVITE; the answer goes to applyAnswer(). */
  makeReoffer(direction?: Direction): Promise<string>;
  mute(on?: boolean): void;
  deafen(on?: boolean): void;
  hide(on?: boolean): void;
  speakTo(legIds: readonly string[] | null): void;
  play(source: FrameSource): void;
  /** In-band (Goertzel) DTMF detection: true always, 'auto' while the leg has no telephone-event, false never (media.inbandDtmf sets where a leg starts). */
  detectInbandDtmf(on: boolean | 'auto'): void;
  /** The telephone-event packets (RFC 4733) this leg sends go on to leg `legId` of the room as they come (a bridge's other party); null: Parley only takes the digits. */
  relayDtmfTo(legId: string | null): void;
  /** `digit` for `durationMs` (a bridged party's SIP INFO digit, the API's): RFC 4733 events on this leg's stream when it negotiated telephone-event and `inband` is not set, else DTMF tones in its audio. */
  sendDigit(digit: string, durationMs: number, inband?: boolean): void;
  handleSipInfo(contentType: string, body: string): DtmfEvent | null;
  close(reason?: MediaLegCloseReason): void;
}

export interface MediaRoom extends TypedEmitter<MediaRoomEvents> {
  readonly id: string;
  readonly codecs: readonly CodecName[];
  readonly isClosed: boolean;
  /** Why it closed (set before its legs close, so their listeners can read it); null while open. */
  readonly closedBy: MediaRoomCloseReason | null;
  readonly size: number;
  readonly legIds: string[];
  readonly mixerSampleRate: number;
  readonly mixerStats: ClockStats;
  readonly forwardStats: Readonly<TwoPartyStats>;
  leg(id: string): MediaLeg | undefined;
  createLeg(offer: string, options?: CreateLegOptions): Promise<{ leg: MediaLeg; answer: string }>;
  createOutgoingLeg(options?: CreateOutgoingLegOptions): Promise<{ leg: MediaLeg; offer: string }>;
  play(source: FrameSource): void;
  addSink(sink: TickSink): void;
  removeSink(sink: TickSink): void;
  /**
   * Plays out at once what every leg's jitter buffer still holds, and what legs that
   * left still had, into the recorders only (the room is about to close: its clock
   * stops, no leg is sent anything more). Resolves when the ticks are written.
   */
  playOut(): Promise<void>;
  close(reason?: MediaRoomCloseReason): void;
}
