// Config of encryption at rest (`recording.encryption`) and of object storage
// (`recording.store`), kept apart from schema.ts so that the keys of the
// compliance features each live in one place.

export interface RecordingEncryptionConfig {
  enabled: boolean;
  /** A file holding the 32-byte master key (raw, 64 hex digits or base64). */
  masterKeyFile?: string | null;
  /** Or the environment variable holding it (hex or base64). */
  masterKeyEnv?: string | null;
}

export interface RecordingStoreConfig {
  type: 's3';
  /** An S3-compatible endpoint (http(s)://host:port); null or absent: AWS S3 of `region`. */
  endpoint?: string | null;
  bucket: string;
  /** Put before `<id>/<file>` in every object key (e.g. `parley/`). */
  prefix?: string;
  region?: string;
  /** Absent: the AWS SDK's own credential chain (environment, profile, instance role). */
  accessKeyId?: string | null;
  secretAccessKey?: string | null;
  /** Path-style addressing (`endpoint/bucket/key`), what S3-compatible servers want; default true. */
  forcePathStyle?: boolean;
  /** Remove the local audio files once each object is verified in the bucket (default true). */
  deleteLocal?: boolean;
  /** Back-off of a failed upload: first delay, doubling up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** The journal of uploads not yet verified (resumed at the next start). */
  journalFile?: string;
  /** Files larger than this are sent as multipart uploads (default 5 GiB, the most one S3 PUT carries; less for a server with a lower limit). */
  multipartAboveBytes?: number;
  /** The size of their parts (default 64 MiB; more for a file that would need over 10,000). */
  partBytes?: number;
}

export const recordingEncryptionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled'],
  properties: {
    enabled: { type: 'boolean' },
    masterKeyFile: { type: 'string', nullable: true, minLength: 1 },
    masterKeyEnv: { type: 'string', nullable: true, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
  },
} as const;

export const recordingStoreSchema = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  required: ['type', 'bucket'],
  properties: {
    type: { type: 'string', enum: ['s3'] },
    endpoint: { type: 'string', nullable: true, pattern: '^https?://' },
    bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' },
    prefix: { type: 'string', pattern: '^([A-Za-z0-9!_.*\'()/-]{0,200})$' },
    region: { type: 'string', minLength: 1 },
    accessKeyId: { type: 'string', nullable: true, minLength: 1 },
    secretAccessKey: { type: 'string', nullable: true, minLength: 1 },
    forcePathStyle: { type: 'boolean' },
    deleteLocal: { type: 'boolean' },
    retryBaseMs: { type: 'integer', minimum: 10, maximum: 600000 },
    retryMaxMs: { type: 'integer', minimum: 10, maximum: 86400000 },
    journalFile: { type: 'string', minLength: 1 },
    // S3: a part is 5 MiB at least (the last excepted), an object of one PUT 5 GiB at most.
    multipartAboveBytes: { type: 'integer', minimum: 5242880, maximum: 5368709120 },
    partBytes: { type: 'integer', minimum: 5242880, maximum: 5368709120 },
  },
} as const;

/** Checks across keys; one line per problem, naming the key. */
export function recordingStoreChecks(r: { postProcess: string; encryption?: RecordingEncryptionConfig; store?: RecordingStoreConfig | null }): string[] {
  const problems: string[] = [];
  const e = r.encryption;
  if (e?.enabled) {
    if (!e.masterKeyFile === !e.masterKeyEnv) problems.push('recording.encryption: exactly one of masterKeyFile and masterKeyEnv is required when enabled');
    if (r.postProcess !== 'none') {
      problems.push("recording.postProcess: must be 'none' when recording.encryption.enabled (ffmpeg would write the audio in plaintext)");
    }
  }
  const s = r.store;
  if (s && (s.accessKeyId == null) !== (s.secretAccessKey == null)) {
    problems.push('recording.store.secretAccessKey: accessKeyId and secretAccessKey go together');
  }
  if (s && s.retryBaseMs !== undefined && s.retryMaxMs !== undefined && s.retryBaseMs > s.retryMaxMs) {
    problems.push('recording.store.retryBaseMs: must not be above recording.store.retryMaxMs');
  }
  return problems;
}
