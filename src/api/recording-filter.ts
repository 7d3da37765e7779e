// GET /recordings filters: by participant AOR (a SIPREC participant or any leg's
// URI), SIPREC group or session id, and start time. Applied to each sidecar.
import type { RecordingMetadata } from '../recording/metadata.ts';

export interface RecordingQuery {
  /** A participant's AOR or a leg's URI, compared without case; `sip:` may be left out. */
  participant?: string;
  /** SIPREC group id: the sessions of one call across transfers. */
  group?: string;
  /** SIPREC session id. */
  session?: string;
  /** Started at or after / before this ISO time. */
  from?: string;
  to?: string;
}

const text = { type: 'string', minLength: 1, maxLength: 512 } as const;

export const recordingQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    participant: { ...text, description: 'a participant AOR (SIPREC metadata) or a leg URI' },
    group: { ...text, description: 'SIPREC group id' },
    session: { ...text, description: 'SIPREC session id' },
    from: { ...text, format: 'date-time', description: 'started at or after (ISO 8601)' },
    to: { ...text, format: 'date-time', description: 'started before (ISO 8601)' },
  },
} as const;

const bare = (uri: string): string => uri.trim().toLowerCase().replace(/^sips?:/, '');

export function recordingMatches(m: RecordingMetadata, q: RecordingQuery): boolean {
  if (q.group !== undefined && m.siprec?.groupId !== q.group) return false;
  if (q.session !== undefined && m.siprec?.sessionId !== q.session) return false;
  const started = Date.parse(m.startedAt);
  if (q.from !== undefined && !(started >= Date.parse(q.from))) return false;
  if (q.to !== undefined && !(started < Date.parse(q.to))) return false;
  if (q.participant !== undefined) {
    const want = bare(q.participant);
    const uris = [...(m.siprec?.participants ?? []).map((p) => p.aor), ...(m.legs ?? []).map((l) => l.uri)];
    if (!uris.some((u) => typeof u === 'string' && bare(u) === want)) return false;
  }
  return true;
}

/** What the list shows of a SIPREC recording. */
export function siprecSummary(m: RecordingMetadata): Record<string, unknown> | undefined {
  const s = m.siprec;
  if (!s) return undefined;
  return {
    sessionId: s.sessionId,
    groupId: s.groupId,
    linked: s.linked,
    participants: s.participants.map((p) => ({ aor: p.aor, name: p.name, sends: p.sends, leftAt: p.leftAt })),
  };
}
