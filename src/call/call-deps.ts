// What a call needs from the process, passed explicitly (no service locator).
import type Srf from 'drachtio-srf';
import type { SiprecConfig } from '../config/siprec-schema.ts';
import type { MediaEngine } from '../media-plane/media-engine.ts';
import type { LegMarker } from '../policy/loop-marker.ts';
import type { Matcher } from '../policy/pattern.ts';
import type { PromptLibrary } from '../playback/prompt-library.ts';
import type { RecordingService } from '../recording/recording-service.ts';
import type { ConferenceJoinOptions } from './ports.ts';
import type { Consultation, RemoteConsultation } from './consultation.ts';
import type { ReplacesId } from './refer-request.ts';
import type { SipCall } from './sip-call.ts';

export interface CallSettings {
  /** The header and value Parley puts on every leg it places (routing.loopMarker), sealed by createUac (LoopMarker.seal). */
  loopMarker: LegMarker;
  /** Where B legs are sent first (an upstream proxy), or null for the Request-URI. */
  outboundProxy: string | null;
  /** The mixer's rate (media.mixer.sampleRate): prompts and recordings of wideband calls use it (prompt-rate.ts, recording-rate.ts). */
  sampleRate: number;
  /** media.mixer.narrowband: a call whose legs are all G.711 hears prompts made at 8 kHz and is recorded at 8 kHz (prompt-rate.ts, recording-rate.ts). */
  narrowband?: boolean;
  /** media.inbandDtmf: 'always' runs in-band DTMF detection on every caller without telephone-event. */
  inbandDtmf?: 'auto' | 'always';
  recordingDir: string;
  /** recording.retention.days: what a recording keeps when neither its step nor its rule says. */
  retentionDays?: number | null;
  /** sip.externalIp: the address our own Contacts name instead of the one a request arrived on. */
  externalIp?: string | null;
  /** sip.timers.t1 (ms): how long an offerless re-INVITE's 200 waits for its ACK, 68*T1 (default 500). */
  sipT1?: number;
  /** calls.holdPropagation: a hold in a two-party bridge is passed on to the other party with a re-INVITE ('reinvite', the default) or not ('none'). */
  holdPropagation?: 'reinvite' | 'none';
  /**
   * True when a request to the URI would reach Parley's own SIP server, by any of its addresses or
   * a name (EmbeddedSipServer.pointsHere). Only with the embedded server, which tells the two ends
   * of a call Parley places to itself apart (DialogLayer.add); a drachtio-server gives both the
   * same dialog id (Call-ID and From tag), so there (null) a transfer to Parley itself keeps the
   * loop marker (482).
   */
  pointsAtParley?: ((uri: string) => Promise<boolean>) | null;
  /** The `siprec` section (absent: its defaults). */
  siprec?: SiprecConfig;
  /** security.upstreams, compiled: the trust domain a B leg's next hop may be in (RFC 3325 §7; none: no hop is). */
  trustDomain?: readonly Matcher[];
}

/** Joins a call's leg into a named conference room; see conference-manager.ts. */
export interface ConferenceJoiner {
  join(call: SipCall, options: ConferenceJoinOptions): Promise<{ left: Promise<string> }>;
}

/**
 * Where a B leg's early dialog is registered while its INVITE is pending (src/signaling/early-requests.ts):
 * drachtio-srf has no Dialog before the 2xx, so an INFO the callee sends after its 180/183 comes
 * to the handler registered for its Call-ID. The returned function unregisters it.
 */
export interface EarlyLegs {
  add(callId: string, handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => boolean): () => void;
}

export interface CallDeps {
  srf: Srf;
  /** Absent: a callee's requests before its 2xx get 481. */
  earlyLegs?: EarlyLegs;
  media: MediaEngine;
  prompts: PromptLibrary;
  recordings: RecordingService;
  conferences: ConferenceJoiner;
  settings: CallSettings;
  /** An attended transfer's Replaces names a dialog of one of this Parley's calls: where the transfer goes instead (consultation.ts); null: none. */
  consultation?: (id: ReplacesId, from: SipCall) => Promise<Consultation | null>;
  /** In a cluster, when no call here has it: the node that holds the consultation call is asked (null: none, or no cluster). */
  remoteConsultation?: (id: ReplacesId) => Promise<RemoteConsultation | null>;
  /** The recordings on disk of a SIPREC group (earliest first), for a group this process has not seen: `linked` across restarts. */
  siprecGroupRecordings?: (groupId: string) => string[];
}
