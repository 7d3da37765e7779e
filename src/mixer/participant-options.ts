// What a mixer participant is made of: its leg's media (codec, payload types, SSRC) and
// its options (room rate, jitter depth, in-band DTMF, where its packets go), and its events.
import type { Logger } from '../util/logger.ts';
import type { CodecName } from './codecs/audio-codec.ts';
import type { PacketSend } from './rtp-output.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';

/**
 * In-band (Goertzel) DTMF detection on a leg: 'on' always, even beside
 * telephone-event; 'auto' only while the leg has no telephone-event (RFC 4733);
 * 'off' never (nobody wants the digits, or the leg sends them by SIP INFO).
 */
export type InbandDtmfMode = 'on' | 'auto' | 'off';

export interface ParticipantMedia {
  codec: CodecName;
  /** Payload type of the leg's audio as it reaches the mixer. */
  audioPt: number;
  /** Payload type of telephone-event as it reaches the mixer, or null when not negotiated. */
  dtmfPt: number | null;
  /** Clock rate of telephone-event (8000; 48000 beside opus; 16000 from phones that offer it beside G.722). */
  dtmfClock: number;
  /** Payload type of telephone-event on this listener's stream (digits relayed to it: MixerParticipant.dtmfTo); null or absent: not negotiated. */
  dtmfSendPt?: number | null;
  /** Payload type the mixer writes on this listener's stream. */
  sendPt: number;
  /** SSRC the mixer writes on this listener's stream. */
  sendSsrc: number;
  /** Packet length (ms) of this listener's stream: 20 when absent; other values for G.711 and G.722 only. */
  sendPtime?: number;
  /** Opus: the listener asked for in-band FEC (its useinbandfec=1): what the mixer encodes for it carries FEC. */
  sendFec?: boolean;
}

export interface ParticipantOptions {
  id: string;
  media: ParticipantMedia;
  /** The room's rate (setRoomRate() changes it). */
  sampleRate: number;
  jitterMinMs: number;
  jitterMaxMs: number;
  /**
   * A leg nobody hears live (a SIPREC stream): its jitter buffer plays at this fixed
   * depth and sheds nothing, so a burst or stall up to this long is recorded, not dropped.
   */
  recordOnlyMs?: number | null;
  /** In-band DTMF detection (see InbandDtmfMode); 'auto' when absent. */
  inbandDtmf?: InbandDtmfMode;
  send: PacketSend;
  log: Logger;
}

export type MixerParticipantEvents = {
  talk: [talking: boolean];
  dtmf: [event: DtmfEvent];
  close: [];
};
