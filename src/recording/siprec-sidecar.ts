// The `siprec` section of a recording's JSON sidecar: the normalized view of a
// SIPREC session's metadata (RFC 7865), filled by call control (src/call/siprec/)
// and written by the Recorder with the rest of the sidecar. Every metadata version
// as received is a file of its own next to the recording (`metadataVersions`).

export interface SiprecParticipantEntry {
  /** participant_id as the SRC sent it (null when it gave none). */
  id: string | null;
  /** The first AOR the metadata named it by (its first nameID). */
  aor: string | null;
  /**
   * Every AOR it was named by, `aor` first (several nameIDs: a sip: and a tel: one); the
   * recordings search finds it by any. Absent from sidecars written before it was added.
   */
  aors?: string[];
  name: string | null;
  /**
   * Leg ids of the streams this participant sends (from the metadata's associations): now,
   * or, once it left, when it left (the streams' `senders` say until when).
   */
  sends: string[];
  /** Their labels (`a=label`). */
  labels: string[];
  /** Wall-clock ISO times: first named by the metadata; gone from it (or disassociated). */
  joinedAt: string;
  leftAt: string | null;
  /** Stereo channel of this participant's streams, when it is one of the two main ones. */
  stereo: 'left' | 'right' | null;
}

export interface SiprecStreamSender {
  /** participant_id (or its AOR when it had none). */
  participant: string | null;
  from: string;
  to: string | null;
}

export interface SiprecStreamEntry {
  /** Position of the m-line in the offer. */
  index: number;
  /** The recording's leg (its stem) now; null when the stream could not be recorded, or was removed (answered with port 0). */
  leg: string | null;
  /** Legs that recorded it before a re-offer removed it (port 0) or moved it to another leg, and when (absent: none). */
  ended?: { leg: string; at: string }[];
  label: string | null;
  /** stream_id from the metadata, when a stream element names this label. */
  streamId: string | null;
  kind: string;
  /** The sending participant's id, when the metadata says: the first of those sending it now. */
  participant: string | null;
  /**
   * Who sent it and when (wall-clock ISO times), in order: a transfer's party that took it
   * over follows the one it replaced; those sending it now have `to: null` (several: a mixed
   * stream). One that left without a successor keeps it to the end; a stream removed by a
   * re-offer (port 0) has none sending it: they end at the removal. Absent from sidecars
   * written before it was added.
   */
  senders?: SiprecStreamSender[];
  /** When the SRC paused it (a=inactive, c=0.0.0.0) and resumed it (wall-clock ISO times); its stem holds silence meanwhile. */
  pauses: { start: string; end: string | null }[];
  refused?: string;
}

export interface SiprecMetadataVersion {
  /** File name inside the recordings folder (Parley's own name; nothing from the XML). */
  file: string;
  at: string;
  method: string;
  bytes: number;
  /** Why this version could not be read (it is kept anyway), or why it is not kept (`lost`). */
  problem: string | null;
  dialect: string | null;
  dataMode: 'complete' | 'partial' | null;
  /** The file's sha256, set when the recording closes (null: it could not be written). */
  sha256?: string | null;
  /** Set when the recording closed without the file on disk (its write failed, or a crash came first): why. */
  lost?: string;
}

export interface SiprecSidecar {
  /** The SIPREC dialog's Call-ID (the recording session, not the recorded call). */
  callId: string;
  sessionId: string | null;
  groupId: string | null;
  /** The recorded call's Call-IDs (`sipSessionID`). */
  sipSessionIds: string[];
  dialect: string | null;
  participants: SiprecParticipantEntry[];
  streams: SiprecStreamEntry[];
  metadataVersions: SiprecMetadataVersion[];
  /** Each request that changed the session: method and what it carried. */
  updates: { at: string; method: string; sdp: boolean; metadata: boolean }[];
  /** Other recordings of the same group (a transfer: a new session with the same group id), earlier first. */
  linked: string[];
  /** Metadata problems (the recording went on). */
  problems: string[];
}

/** What GET /recordings and recording.saved show of a SIPREC recording. */
export function siprecSummary(s: SiprecSidecar): Record<string, unknown> {
  return {
    sessionId: s.sessionId,
    groupId: s.groupId,
    linked: s.linked,
    participants: (s.participants ?? []).map((p) => ({ aor: p.aor, aors: p.aors ?? (p.aor ? [p.aor] : []), name: p.name, sends: p.sends, leftAt: p.leftAt })),
  };
}
