// Flows as written in the config's `flows` section: a flow is a list of steps,
// each step an object with one key, the task's name, holding its parameters.
import type { BridgeSrtp, CallerHears, ConferenceJoinOptions, PlaySpec } from './ports.ts';

export interface PlayParams extends PlaySpec {
  /** Stop the prompt when the caller presses a key (the digit is kept for a following menu/collect). */
  bargeIn?: boolean;
  /** `caller` (default) or the whole `room`. */
  target?: 'caller' | 'room';
  /** This prompt is the record notice: the recording's metadata says when it played, and the mix (and the caller's stem) hold it even when only the caller hears it. */
  notice?: boolean;
}

export interface CollectParams {
  prompt?: PlaySpec;
  /** Session variable that receives the digits. */
  into: string;
  maxDigits?: number;
  minDigits?: number;
  /** Ends input early; not part of the digits. */
  terminator?: string;
  /** Seconds allowed between two digits, and for the whole input. */
  interDigitTimeout?: number;
  timeout?: number;
  /** How many more times the prompt is offered after a wrong, short or missing answer (default 2). */
  retries?: number;
  invalidPrompt?: PlaySpec;
  /** Flow run when the retries are used up; the call is hung up when absent. */
  fallback?: string;
}

export interface MenuParams extends Omit<CollectParams, 'into'> {
  prompt: PlaySpec;
  /** Digits → flow to run next. */
  branches: Record<string, string>;
  into?: string;
}

export interface RecordParams {
  action: 'start' | 'stop' | 'pause' | 'resume' | 'mask' | 'unmask';
  stereo?: boolean;
  stems?: boolean;
  /** How long this recording is kept (days); wins over the rule's and recording.retention.days. */
  retention?: { days: number };
}

export interface BridgeParams {
  /** A sip:, sips: or tel: URI, or a BridgeTarget (`to`, `request-uri`); absent: the call's bridge target (its rule's `bridgeTo`, else `to`). */
  to?: string;
  ringTimeout?: number;
  whisper?: PlaySpec;
  copyHeaders?: string[];
  identity?: 'none' | 'p-asserted-identity' | 'history-info' | 'diversion';
  earlyMedia?: boolean;
  /** What the caller hears until connected (while the callee rings and hears the whisper): `ringback` (default), `notice` (the whisper again), `silence`, or a prompt. */
  callerHears?: CallerHears;
  /** Whose REFER Parley carries out: `callee` (default), `both` (the caller's too), `refuse` (403 to both). */
  transfers?: 'callee' | 'both' | 'refuse';
  /** RFC 4733 digits between the connected parties: `relay` (default: each party's go on to the other) or `take` (Parley's only). */
  dtmf?: 'relay' | 'take';
  /** The callee leg's media: `off` (plain RTP, default), `follow` (SDES-SRTP when the caller's leg uses it), `on` (always). */
  srtp?: BridgeSrtp;
  /** Flow run when the callee is busy, rejects or never answers; absent: the callee's status goes to the caller. */
  fallback?: string;
}

export type ConferenceParams = Omit<ConferenceJoinOptions, 'joinTone' | 'leaveTone' | 'identity'> & {
  identity?: ConferenceJoinOptions['identity'];
  joinTone?: PlaySpec;
  leaveTone?: PlaySpec;
};

/** The built-in SIPREC step: answer the recording client, record every stream, wait for its BYE. */
export interface SiprecParams {
  /** The stereo file of the two main participants (default true). */
  stereo?: boolean;
  /** A WAV per stream (default true). */
  stems?: boolean;
  /** How long the session's recording is kept (days); wins over the rule's and recording.retention.days. */
  retention?: { days: number };
}

export interface HangupParams {
  status?: number;
  reason?: string;
}

export type StepConfig =
  | { answer: null | { early?: boolean } }
  | { play: PlayParams }
  | { say: PlayParams & { text: string } }
  | { menu: MenuParams }
  | { collect: CollectParams }
  | { record: RecordParams }
  | { bridge: BridgeParams }
  | { conference: ConferenceParams }
  | { whisper: PlaySpec }
  | { transfer: { to: string } }
  | { hangup: HangupParams | null }
  | { siprec: SiprecParams | null }
  | { goto: string };

export type FlowsConfig = Record<string, StepConfig[]>;
