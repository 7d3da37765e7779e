// Compliance of recordings kept in recording.store (the uploader removed the local
// audio once its objects verified):
// - verify: a file listed by the sidecar and not on disk is checked in the bucket:
//   the object exists, its size is the one logged by the audit `stored` entry, and
//   its x-amz-meta-sha256 (written by the uploader from the file as it was on disk:
//   ciphertext for an encrypted recording, like the sidecar's sha256) is the
//   sidecar's; `deep` downloads the object and hashes its bytes instead. A bucket
//   that cannot be reached is a failure that says so, never a pass.
// - retention: the delete step that lists (and HEADs, for the hashes) every object
//   under `<prefix><id>/` before the audit `deleted` entry, then removes them.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { RecordingMetadata } from '../metadata.ts';
import type { ObjectHead } from '../store/s3-bucket.ts';
import type { AuditEntry } from './audit-log.ts';

/** The part of S3Bucket that compliance uses. */
export interface ObjectStore {
  readonly bucket: string;
  keyOf(id: string, file: string): string;
  urlOf(key: string): string;
  head(key: string): Promise<ObjectHead | null>;
  get(key: string): Promise<{ size: number; stream: Readable } | null>;
  listRecording(id: string): Promise<{ key: string; size: number }[]>;
  delete(key: string): Promise<void>;
}

export type StoredProblemKind = 'missing-file' | 'bucket-unreachable' | 'stored-mismatch' | 'hash-mismatch';

export interface StoredFileResult {
  ok: boolean;
  /** The sha256 found (object metadata, or the bytes' with `deep`); null when none. */
  actual: string | null;
  problem?: { kind: StoredProblemKind; message: string };
}

/** The sizes of a recording's objects as the last audit `stored` entry logged them. */
export function storedSizes(entries: readonly { entry: AuditEntry }[]): Map<string, number> {
  const stored = entries.findLast((e) => e.entry.event === 'stored');
  const objects = (stored?.entry.objects ?? []) as { file?: unknown; size?: unknown }[];
  return new Map(objects.flatMap((o) => (typeof o.file === 'string' && typeof o.size === 'number' ? [[o.file, o.size] as [string, number]] : [])));
}

/** Checks one file of a recording that is not on disk against its object. */
export async function checkStoredFile(
  store: ObjectStore,
  id: string,
  file: string,
  expected: string | null,
  loggedSize: number | undefined,
  deep: boolean,
): Promise<StoredFileResult> {
  const key = store.keyOf(id, file);
  const url = store.urlOf(key);
  const unreachable = (err: unknown): StoredFileResult => ({
    ok: false,
    actual: null,
    problem: { kind: 'bucket-unreachable', message: `${file}: not on disk; cannot check: bucket unreachable (${(err as Error).message})` },
  });
  let head: ObjectHead | null;
  try {
    head = await store.head(key);
  } catch (err) {
    return unreachable(err);
  }
  if (!head) {
    return { ok: false, actual: null, problem: { kind: 'missing-file', message: `${file}: missing, neither on disk nor in the bucket (${url}); the sidecar lists it with sha256 ${expected ?? 'none'}` } };
  }
  if (loggedSize !== undefined && head.size !== loggedSize) {
    return { ok: false, actual: head.sha256, problem: { kind: 'stored-mismatch', message: `${url}: ${head.size} bytes, the audit log's 'stored' entry says ${loggedSize} (the object was replaced)` } };
  }
  if (deep) {
    let actual: string;
    try {
      const got = await store.get(key);
      if (!got) return { ok: false, actual: null, problem: { kind: 'missing-file', message: `${file}: ${url} disappeared while it was read` } };
      const h = createHash('sha256');
      for await (const c of got.stream) h.update(c as Buffer);
      actual = h.digest('hex');
    } catch (err) {
      return unreachable(err);
    }
    if (actual !== expected) {
      return { ok: false, actual, problem: { kind: 'hash-mismatch', message: `${file}: the object ${url} has sha256 ${actual}, the sidecar says ${expected ?? 'none'} (the object was altered)` } };
    }
    return { ok: true, actual };
  }
  if (head.sha256 === null) {
    return { ok: false, actual: null, problem: { kind: 'stored-mismatch', message: `${url}: no x-amz-meta-sha256 (the object was not written by Parley's uploader: replaced?); --deep hashes its bytes` } };
  }
  if (head.sha256 !== expected) {
    return {
      ok: false,
      actual: head.sha256,
      problem: { kind: 'stored-mismatch', message: `${url}: x-amz-meta-sha256 ${head.sha256}, the sidecar says ${expected ?? 'none'} (the object was replaced)` },
    };
  }
  return { ok: true, actual: head.sha256 };
}

/**
 * A step of ComplianceService.delete. `prepare` runs before the audit `deleted`
 * entry (what it returns goes into the entry; throwing stops the delete with
 * nothing logged or removed); `run` after it, before the local files go.
 */
export interface DeleteStep {
  name: string;
  prepare?(id: string, meta: RecordingMetadata): Promise<Record<string, unknown>>;
  run(id: string, meta: RecordingMetadata): Promise<void>;
}

/** Removes a recording's objects from the bucket (all under `<prefix><id>/`). */
export function bucketDeleteStep(store: ObjectStore): DeleteStep {
  const planned = new Map<string, string[]>();
  return {
    name: 'bucket',
    prepare: async (id) => {
      const objects: { key: string; size: number; sha256: string | null }[] = [];
      for (const o of await store.listRecording(id)) {
        const h = await store.head(o.key);
        if (h) objects.push({ key: o.key, size: h.size, sha256: h.sha256 });
      }
      planned.set(id, objects.map((o) => o.key));
      return { bucket: store.bucket, objects };
    },
    run: async (id) => {
      const keys = planned.get(id) ?? (await store.listRecording(id)).map((o) => o.key);
      planned.delete(id);
      for (const key of keys) await store.delete(key);
    },
  };
}
