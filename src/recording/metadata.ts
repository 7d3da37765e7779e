// The JSON sidecar of a recording: its shape (written by SidecarWriter).
import type { SiprecSidecar } from './siprec-sidecar.ts';
import type { GapsEntry } from './timeline-gaps.ts';
//
// Times: `roomMs` is the room clock (MixTick.timeMs); `fileMs` is the position
// in the mixed file (they differ by the paused time when pauses skip); `at` is
// wall-clock ISO time.
import type { EncryptionEntry } from './encryption/recording-encryption.ts';

export type IdentityKind = 'normal' | 'generated' | 'impersonated';
export type PauseMode = 'skip' | 'silence';

export interface TimePoint {
  /** null before the recorder saw its first tick. */
  roomMs: number | null;
  fileMs: number;
  at: string;
}

/** What call control tells the recording about a transfer (TransferEntry without its time). */
export interface TransferNote {
  /**
   * asked: a leg's REFER was taken; connected: its target answered and took the leg's place;
   * failed: the target did not (the leg stays); replaced: an INVITE with Replaces took the leg's place.
   */
  event: 'asked' | 'connected' | 'failed' | 'replaced';
  /** The leg that transferred, or that was replaced. */
  leg: string;
  /** The transfer's target (the Refer-To, or the party of a consultation call through Parley); replaced: the new party's From URI. */
  target: string;
  /** connected, replaced: the leg that took its place. */
  newLeg?: string;
  /** failed: the target's final status. */
  status?: number;
  /** asked: the Call-ID of the consultation call through Parley that the transfer completes. */
  consultation?: string;
  /** A conference member's transfer: the room its target was dialled into (newLeg is that room's leg, not a stem here). */
  room?: string;
}

export type TransferEntry = TransferNote & TimePoint;

export interface FileEntry {
  /** File name inside the recordings folder. */
  file: string;
  channels: number;
  sampleRate: number;
  durationMs: number;
  sha256: string | null;
  /** Set when the file is not on disk (it could never be written): why. */
  lost?: string;
}

export interface StemEntry extends FileEntry {
  /** Where the stem starts on the room clock and in the mixed file: stems start at the join, not at 0. */
  start: TimePoint;
  end: TimePoint | null;
}

export interface LegEntry {
  id: string;
  uri: string | null;
  displayName: string | null;
  identity: IdentityKind;
  callId: string | null;
  /** The To URI the caller originally dialled (default routing endpoint). */
  originalTo: string | null;
  role: 'caller' | 'other';
  /** Where the leg goes in the stereo file: absent or 'auto' (caller left, the others right), or fixed; 'none' leaves it out. */
  stereo?: 'auto' | 'left' | 'right' | 'none';
  joins: TimePoint[];
  leaves: TimePoint[];
  stems: StemEntry[];
  /** The leg's holds (its re-INVITE or UPDATE offered `sendonly`, `inactive` or `c=0.0.0.0`), in order; absent in older sidecars. */
  holds?: HoldEntry[];
}

/** How a leg holds: `sendonly` (it may still send music on hold; also `c=0.0.0.0` with sendrecv) or `inactive`. */
export type HoldDirection = 'sendonly' | 'inactive';

/** One hold of a leg; `end` null: still held when the recording ended (or when the leg hung up). A change from sendonly to inactive (or back) starts a new entry. */
export interface HoldEntry {
  direction: HoldDirection;
  start: TimePoint;
  end: TimePoint | null;
}

export interface IntervalEntry {
  reason: string | null;
  start: TimePoint;
  end: TimePoint | null;
}

export interface PostProcessedEntry {
  source: string;
  file: string;
  format: 'ogg' | 'mp3';
  durationMs: number;
  sha256: string;
  /** Made after the recording was signed (`parley recordings encode`): listed in `<id>.json.encoded`, shown here by the API only (derived-files.ts). */
  derived?: true;
}

export interface RecordingMetadata {
  version: 1;
  room: string;
  state: 'recording' | 'closed' | 'finalized';
  /** The process that writes it (recovery at start leaves a live one alone). */
  pid?: number;
  /** The process stopped without closing it (kill -9, power loss): finalized at the next start. */
  interrupted?: boolean;
  /**
   * No sidecar was ever written (its writes failed: a full disk) and the process stopped: this one was made
   * at the next start from the files alone (adopt-orphans.ts); `errors` says what is and is not known.
   */
  recoveredWithoutMetadata?: true;
  /** Write failures (a full disk): when each began and ended; the files hold silence for audio that could not wait. */
  writeFailures?: { file: string; error: string; at: string; resumedAt: string | null }[];
  /** Ticks the room never handed over, written as silence (timeline-gaps.ts); absent: none. */
  gaps?: GapsEntry;
  sampleRate: number;
  pauseMode: PauseMode;
  startedAt: string;
  startRoomMs: number | null;
  endedAt: string | null;
  updatedAt: string;
  /** Length of the mixed file. */
  durationMs: number;
  mix: FileEntry;
  /** Left: the caller leg; right: every other leg. Null when the recording has no stereo file. */
  stereo: (FileEntry & { left: string | null }) | null;
  legs: LegEntry[];
  /** `leg`: the notice played to that party alone (and was written into the mix, its stem and its stereo channel). */
  notices: (TimePoint & { prompt: string; leg?: string })[];
  pauses: IntervalEntry[];
  masks: IntervalEntry[];
  /** The transfers the recorded call went through, in order; absent until the first. */
  transfers?: TransferEntry[];
  postProcessing: { format: 'none' | 'ogg' | 'mp3'; state: 'none' | 'pending' | 'done' | 'failed'; error: string | null };
  postProcessed: PostProcessedEntry[];
  errors: string[];
  /** The flow that recorded and the rule that gave the call to it (search, retention); absent in older sidecars. */
  flow?: string | null;
  rule?: string | null;
  /** How long the recording is kept after it ended, decided when it started (and signed with the sidecar); absent: recording.retention.days. */
  retention?: RetentionEntry | null;
  /** Encrypted at rest (recording.encryption): every audio file is sealed (encryption/chunk-format.ts), the data key in `keyFile`. */
  encryption?: EncryptionEntry;
  /** A SIPREC recording: the session's metadata, normalized (siprec-sidecar.ts). */
  siprec?: SiprecSidecar;
  /** In a cluster, a call admitted for a conference room: the node and the room lease's epoch. */
  cluster?: ClusterOwnershipEntry;
}

export interface RetentionEntry {
  days: number;
  /** Who decided: the flow's record step, the call's rule, or recording.retention.days. */
  from: 'step' | 'rule' | 'default';
}

/** In a cluster: the room lease the call was admitted under (src/cluster/room-leases.ts). */
export interface ClusterOwnershipEntry {
  /** The node that recorded (cluster.nodeId). */
  node: string;
  room: string;
  /** The lease's ownership epoch. */
  epoch: number;
}

/** What call control tells a new recording about where it comes from. */
export interface RecordingLabels {
  flow?: string | null;
  rule?: string | null;
  retention?: RetentionEntry | null;
  cluster?: ClusterOwnershipEntry | null;
}

/** What call control tells the recorder about a leg; unset fields keep their value. */
export interface LegInfo {
  uri?: string | null;
  displayName?: string | null;
  identity?: IdentityKind;
  callId?: string | null;
  originalTo?: string | null;
  role?: 'caller' | 'other';
  stereo?: 'auto' | 'left' | 'right' | 'none';
}

export function applyLegInfo(entry: LegEntry, info: LegInfo): void {
  if (info.uri !== undefined) entry.uri = info.uri;
  if (info.displayName !== undefined) entry.displayName = info.displayName;
  if (info.identity !== undefined) entry.identity = info.identity;
  if (info.callId !== undefined) entry.callId = info.callId;
  if (info.originalTo !== undefined) entry.originalTo = info.originalTo;
  if (info.role !== undefined) entry.role = info.role;
  if (info.stereo !== undefined) entry.stereo = info.stereo;
}

/** The sidecar of a recording that has just started. */
export function newMetadata(o: {
  room: string;
  sampleRate: number;
  pauseMode: PauseMode;
  startedAt: Date;
  mix: FileEntry;
  stereo: FileEntry | null;
  postProcess: 'none' | 'ogg' | 'mp3';
  labels?: RecordingLabels;
}): RecordingMetadata {
  const started = o.startedAt.toISOString();
  return {
    version: 1,
    room: o.room,
    state: 'recording',
    pid: process.pid,
    sampleRate: o.sampleRate,
    pauseMode: o.pauseMode,
    startedAt: started,
    startRoomMs: null,
    endedAt: null,
    updatedAt: started,
    durationMs: 0,
    mix: o.mix,
    stereo: o.stereo ? { ...o.stereo, left: null } : null,
    legs: [],
    notices: [],
    pauses: [],
    masks: [],
    postProcessing: { format: o.postProcess, state: 'none', error: null },
    postProcessed: [],
    errors: [],
    ...(o.labels ? { flow: o.labels.flow ?? null, rule: o.labels.rule ?? null, retention: o.labels.retention ?? null } : {}),
    ...(o.labels?.cluster ? { cluster: { ...o.labels.cluster } } : {}),
  };
}

/** A file of the recording cannot be written (once per outage): listed in `writeFailures` (at most 20). */
export function noteWriteFailure(meta: RecordingMetadata, file: string, error: Error): void {
  const failures = (meta.writeFailures ??= []);
  if (failures.length < 20) failures.push({ file, error: error.message, at: new Date().toISOString(), resumedAt: null });
}

/** Writes to `file` succeed again: its open failure entry ends now. */
export function noteWriteResumed(meta: RecordingMetadata, file: string): void {
  const open = meta.writeFailures?.findLast((f) => f.file === file && f.resumedAt === null);
  if (open) open.resumedAt = new Date().toISOString();
}
