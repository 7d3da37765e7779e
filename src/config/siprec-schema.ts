// Config of the SIPREC recording server (`siprec`, README "SIPREC recording server"),
// kept apart from schema.ts so the section lives in one place.
import { compileSource } from '../policy/pattern.ts';
import { defaultMetadataBudget, type MetadataBudgetConfig } from '../siprec/metadata-budget.ts';

export interface SiprecConfig {
  /** false: SIPREC INVITEs are refused (420 Bad Extension with Unsupported: siprec, or 403). */
  enabled: boolean;
  /** Addresses or CIDR prefixes SIPREC sessions are accepted from; empty: any source admitted as a caller. */
  sources: string[];
  /** m-lines recorded at most per session; more are ignored (and not answered). */
  maxStreams: number;
  /** Larger metadata is not parsed (the session is recorded, the problem noted). */
  maxMetadataBytes: number;
  /**
   * Metadata parsed per session and per source address (token buckets of bytes): past
   * it an in-dialog update is refused (503 + Retry-After), an INVITE's kept unparsed.
   */
  metadataBudget: MetadataBudgetConfig;
  /** The `siprec` step's defaults: the stereo file of the two main participants, and a stem per stream. */
  stereo: boolean;
  stems: boolean;
  /** When every stream is paused: `skip` or `silence` for SIPREC recordings; null: recording.pauseMode. */
  pauseMode: 'skip' | 'silence' | null;
  /**
   * Depth of a recorded stream's jitter buffer in ms: nobody hears a SIPREC stream live,
   * so it plays this far behind and a burst or stall up to this long is written, not dropped.
   */
  jitterMs: number;
}

export const defaultSiprec: SiprecConfig = { enabled: true, sources: [], maxStreams: 32, maxMetadataBytes: 49152, metadataBudget: defaultMetadataBudget, stereo: true, stems: true, pauseMode: null, jitterMs: 600 };

export const siprecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'sources', 'maxStreams', 'maxMetadataBytes', 'metadataBudget', 'stereo', 'stems', 'pauseMode', 'jitterMs'],
  properties: {
    enabled: { type: 'boolean' },
    sources: { type: 'array', items: { type: 'string', minLength: 1 } },
    maxStreams: { type: 'integer', minimum: 1, maximum: 256 },
    maxMetadataBytes: { type: 'integer', minimum: 1024, maximum: 4194304 },
    metadataBudget: {
      type: 'object',
      additionalProperties: false,
      required: ['sessionBytesPerSecond', 'sessionBurstBytes', 'sourceBytesPerSecond', 'sourceBurstBytes'],
      properties: {
        sessionBytesPerSecond: { type: 'integer', minimum: 1024, maximum: 1073741824 },
        sessionBurstBytes: { type: 'integer', minimum: 1024, maximum: 1073741824 },
        sourceBytesPerSecond: { type: 'integer', minimum: 1024, maximum: 1073741824 },
        sourceBurstBytes: { type: 'integer', minimum: 1024, maximum: 1073741824 },
      },
    },
    stereo: { type: 'boolean' },
    stems: { type: 'boolean' },
    pauseMode: { type: 'string', nullable: true, enum: ['skip', 'silence', null] },
    jitterMs: { type: 'integer', minimum: 100, maximum: 3000, multipleOf: 20 },
  },
} as const;

/** Room an INVITE needs beside its metadata: its headers, the SDP of its streams, the multipart framing. */
export const INVITE_BESIDE_METADATA = 8192;

/** Checks the schema cannot make; one line per problem, naming the key. `maxMessageSize`: sip.maxMessageSize. */
export function siprecChecks(s: SiprecConfig, maxMessageSize: number): string[] {
  const problems: string[] = [];
  s.sources.forEach((src, i) => {
    try {
      compileSource(src);
    } catch (err) {
      problems.push(`siprec.sources.${i}: ${(err as Error).message}`);
    }
  });
  // A document over maxMetadataBytes is kept unparsed (the session recorded); one whose INVITE is over
  // sip.maxMessageSize is refused 513 with it, before anything is read: the first limit must come first.
  if (s.enabled && s.maxMetadataBytes + INVITE_BESIDE_METADATA > maxMessageSize) {
    problems.push(
      `siprec.maxMetadataBytes: ${s.maxMetadataBytes} and an INVITE's headers and SDP (${INVITE_BESIDE_METADATA} bytes) do not fit in sip.maxMessageSize (${maxMessageSize}): its INVITE would be refused 513 before the metadata is read; raise sip.maxMessageSize to at least ${s.maxMetadataBytes + INVITE_BESIDE_METADATA} or lower siprec.maxMetadataBytes`,
    );
  }
  // A document of the largest size parsed must fit each bucket, or it could never be taken.
  const b = s.metadataBudget;
  for (const key of ['sessionBurstBytes', 'sourceBurstBytes'] as const) {
    if (b[key] < s.maxMetadataBytes) problems.push(`siprec.metadataBudget.${key}: ${b[key]} is less than siprec.maxMetadataBytes (${s.maxMetadataBytes}): a document that large could never be parsed`);
  }
  return problems;
}
