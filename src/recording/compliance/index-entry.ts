// What the recordings index keeps of a sidecar: only what searches filter on.
// Participants are generic over the sidecar: every leg's URI, and every entry of a
// `participants` list (uri, aor or any of aors) at the top or in the `siprec` section, so that SIPREC sessions
// are found by participant; SIPREC sidecars add their group and session ids.
import type { RecordingMetadata } from '../metadata.ts';

export interface IndexEntry {
  id: string;
  /** startedAt, ms since the epoch. */
  start: number;
  /** endedAt (ms), null while recording. */
  end: number | null;
  state: string;
  flow: string | null;
  rule: string | null;
  /** Normalized original To URIs of the legs. */
  to: string[];
  /** Normalized participant URIs. */
  parts: string[];
  /** Days kept after the end (the sidecar's retention); null: the configured default. */
  days: number | null;
  /** SIPREC: the session's group id and session id (absent in entries of older journals: no SIPREC then). */
  group?: string | null;
  session?: string | null;
}

/** `"Bob" <sip:Bob@Example.com;transport=udp>` → `sip:bob@example.com`. */
export function normalizeUri(raw: string): string {
  let s = raw.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) s = s.slice(lt + 1, s.indexOf('>', lt) > 0 ? s.indexOf('>', lt) : undefined);
  return s.split(/[;?]/, 1)[0]!.trim().toLowerCase();
}

function participantUris(meta: RecordingMetadata): string[] {
  const out = new Set<string>();
  for (const l of meta.legs ?? []) if (typeof l?.uri === 'string' && l.uri) out.add(normalizeUri(l.uri));
  const lists = [(meta as { participants?: unknown }).participants, (meta as { siprec?: { participants?: unknown } }).siprec?.participants];
  for (const extra of lists) {
    if (!Array.isArray(extra)) continue;
    for (const p of extra) {
      if (!p || typeof p !== 'object') continue;
      for (const k of ['uri', 'aor'] as const) {
        const v = (p as Record<string, unknown>)[k];
        if (typeof v === 'string' && v) out.add(normalizeUri(v));
      }
      // A SIPREC participant's other nameIDs (a tel: AOR beside the sip: one).
      const aors = (p as { aors?: unknown }).aors;
      if (Array.isArray(aors)) for (const v of aors) if (typeof v === 'string' && v) out.add(normalizeUri(v));
    }
  }
  return [...out];
}

/** A SIPREC sidecar's group and session ids (nothing for other recordings: entries stay small). */
function siprecIds(meta: RecordingMetadata): { group?: string | null; session?: string | null } {
  const s = (meta as { siprec?: { groupId?: unknown; sessionId?: unknown } }).siprec;
  if (!s || typeof s !== 'object') return {};
  return { group: typeof s.groupId === 'string' ? s.groupId : null, session: typeof s.sessionId === 'string' ? s.sessionId : null };
}

/** null when the sidecar is not a recording's metadata. */
export function entryOf(id: string, meta: RecordingMetadata): IndexEntry | null {
  if (!meta || typeof meta !== 'object' || meta.version !== 1 || !meta.mix) return null;
  const start = Date.parse(meta.startedAt);
  const end = meta.endedAt ? Date.parse(meta.endedAt) : NaN;
  const to = new Set<string>();
  for (const l of meta.legs ?? []) if (typeof l?.originalTo === 'string' && l.originalTo) to.add(normalizeUri(l.originalTo));
  return {
    id,
    start: Number.isFinite(start) ? start : 0,
    end: Number.isFinite(end) ? end : null,
    state: String(meta.state),
    flow: typeof meta.flow === 'string' ? meta.flow : null,
    rule: typeof meta.rule === 'string' ? meta.rule : null,
    to: [...to],
    parts: participantUris(meta),
    days: typeof meta.retention?.days === 'number' ? meta.retention.days : null,
    ...siprecIds(meta),
  };
}
