// What a call's tasks need from the layers below, as narrow interfaces. The
// running server implements them over the SIP edge and the media engine
// (src/call/adapters/); unit tests implement them with fakes.
import type { Logger } from '../util/logger.ts';

/**
 * Where a B leg goes: `to` (the default) is the call's original To URI, the point of a default
 * routing endpoint; `request-uri` is the INVITE's Request-URI (a phone such as linphonec keeps
 * the port there and not in To).
 */
export type BridgeTarget = 'to' | 'request-uri';

/** A name-addr as it arrived: `"Bob" <sip:bob@example.com;transport=tcp>;foo=bar`. */
export interface NameAddr {
  uri: string;
  displayName: string;
  /** Header parameters after the URI (tag excluded). */
  params: Record<string, string>;
}

export type PlayResultReason = 'done' | 'stopped' | 'bargein' | 'error';

export interface PlaySpec {
  /** A prompt file name under prompts/ (extension optional). */
  prompt?: string;
  /** Text spoken by espeak-ng. */
  text?: string;
  /** A tone: beep, ringback, dtmf:5, silence:500 (ms). */
  tone?: string;
  /** How many times to play it (default 1). */
  repeat?: number;
}

export interface PlayHandle {
  /** Settles when the prompt ends; never rejects ('error' carries the reason in `error`). */
  readonly finished: Promise<{ reason: PlayResultReason; error?: Error }>;
  stop(): void;
}

export interface RecordingHandle {
  readonly id: string;
  pause(): void;
  resume(): void;
  /** Silence that keeps the timeline (card numbers); mask(false) ends it. */
  mask(on: boolean): void;
  /** Closes the files; resolves with the metadata path. */
  stop(): Promise<string>;
  /** Marks a notice played to the whole room (already in the mix) in the metadata. */
  notice(prompt: string): void;
}

export interface RecordingOptions {
  /** A WAV per leg besides the mix (default true). */
  stems?: boolean;
  /** A stereo WAV, caller left and the others right (default true). */
  stereo?: boolean;
  /** The record step's retention (days), winning over the rule's and the default. */
  retentionDays?: number;
  /** When the recording pauses: skip or silence (absent: recording.pauseMode). */
  pauseMode?: 'skip' | 'silence';
}

/** Who ended a bridged call: the caller's side, the callee's, or Parley itself (a stop, the API, a timeout). */
export type BridgeEndedBy = 'caller' | 'callee' | 'parley';

export type BridgeOutcome =
  | { kind: 'answered'; legId: string; ended: Promise<BridgeEndedBy> }
  | { kind: 'failed'; status: number; reason: string };

/** What the caller hears until it is connected to the callee: a tone, the notice again (the whisper), a prompt, or nothing. */
export type CallerHears = 'ringback' | 'notice' | 'silence' | PlaySpec;

export interface BridgeOptions {
  /** Target URI; the call's original To when absent. */
  to?: string;
  /** Seconds to wait for an answer. */
  ringTimeout: number;
  /** A prompt played to the callee alone once it answers, before the parties are connected. */
  whisper?: PlaySpec;
  /** Headers copied from the caller's INVITE to the B leg. */
  copyHeaders: string[];
  /** How the caller's identity reaches the B leg. */
  identity: 'none' | 'p-asserted-identity' | 'history-info' | 'diversion';
  /** Pass the callee's early media (183 with SDP) to the caller. */
  earlyMedia: boolean;
  /** Played to the caller alone from the bridge's start until the parties are connected (not while the callee's early media is heard). */
  callerHears: CallerHears;
  /**
   * Whose REFER is carried out (its target dialled and put in the transferor's place): `callee`,
   * `both` (the caller's too: a caller could make Parley dial any URI, so only where callers are
   * trusted, such as agents dialling out), `refuse` (403).
   */
  transfers: 'callee' | 'both' | 'refuse';
  /**
   * RFC 4733 digits between the connected parties: `relay` (the default) sends each party's
   * telephone-event packets on to the other as they come (a caller keys its way through the
   * callee's IVR), besides the digits Parley takes from them; `take`: Parley takes them only.
   */
  dtmf: 'relay' | 'take';
  /**
   * The media Parley offers the callee (and a transfer's target): `off` plain RTP; `follow`
   * SDES-SRTP (AES_CM_128_HMAC_SHA1_80) when the party it is connected to uses SRTP, so a
   * caller's SRTP is not lost on the callee's side; `on` SDES-SRTP always. A callee that does
   * not take what it is offered answers 488 (the bridge fails with it).
   */
  srtp: BridgeSrtp;
}

export type BridgeSrtp = 'off' | 'follow' | 'on';

export interface ConferenceJoinOptions {
  room: string;
  /** 'normal' uses the caller's URI; 'generated' hides the leg; 'impersonate' joins as `as`. */
  identity: 'normal' | 'generated' | 'impersonate';
  as?: { uri: string; displayName?: string };
  muted?: boolean;
  joinTone?: PlaySpec;
  leaveTone?: PlaySpec;
  /** `members`: a member's blind transfer (REFER) dials its target into the room (member-transfer.ts); `refuse` (default): 403. */
  transfers?: 'members' | 'refuse';
}

export type CallEvents = {
  dtmf: [digit: string, durationMs: number];
  /** The caller hung up or the call failed: every running task must stop. */
  ended: [reason: string];
  /** Another leg answered and joined the call's room (the bridged callee). */
  legjoined: [legId: string, uri: string];
  /** A leg's peer put it on hold (`sendonly`, `inactive`) or took it off hold (null): hold.ts. */
  hold: [legId: string, direction: 'sendonly' | 'inactive' | null];
};

/** One call as its tasks see it: the caller's leg and what can be done with it. */
export interface CallPort {
  readonly callId: string;
  readonly log: Logger;
  /** The To the call arrived with (the default routing endpoint keeps it to bridge to it later). */
  readonly originalTo: NameAddr;
  readonly from: NameAddr;
  readonly requestUri: string;
  /** Where a bridge step without `to` goes: the rule that took the call may say (`bridgeTo`). */
  readonly bridgeTarget: BridgeTarget;
  /** The original To would bring a B leg straight back to Parley while the Request-URI points elsewhere (loops-back.ts). */
  readonly toLoopsBack?: boolean;
  readonly answered: boolean;
  readonly ended: boolean;
  on<K extends keyof CallEvents>(event: K, listener: (...args: CallEvents[K]) => void): unknown;
  off<K extends keyof CallEvents>(event: K, listener: (...args: CallEvents[K]) => void): unknown;

  /**
   * 200 OK with Parley's media; with `early`, a 183 Session Progress with the same
   * media instead, so that prompts play before the call is answered (a record notice
   * before the callee picks up; the caller can still CANCEL).
   */
  answer(options?: { early?: boolean }): Promise<void>;
  /**
   * A flow step waits for the caller's digits until it calls the returned release:
   * in-band DTMF detection runs meanwhile on a caller without telephone-event
   * (media.inbandDtmf 'auto', digit-demand.ts). Digits by RFC 4733 or SIP INFO arrive regardless.
   */
  wantDigits(): () => void;
  /** Final response before answer, BYE after. */
  hangup(status?: number, reason?: string): void;
  /**
   * With `notice`, the prompt is the record notice: the recording (if one runs) marks when it
   * played and, when it plays to the caller alone, writes it into the mix and the caller's tracks.
   */
  play(spec: PlaySpec, options: { target: 'caller' | 'room'; bargeIn: boolean; notice?: boolean }): PlayHandle;
  startRecording(options: RecordingOptions): Promise<RecordingHandle>;
  bridge(options: BridgeOptions): Promise<BridgeOutcome>;
  joinConference(options: ConferenceJoinOptions): Promise<{ left: Promise<string> }>;
  /** Blind transfer with REFER; resolves once the transferee accepted it. */
  transfer(target: string): Promise<void>;
}
