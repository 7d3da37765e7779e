// Verifies one recording: every file its sidecar lists against the sha256 the
// sidecar holds, the sidecar against its signature (trusted key), and both
// against the audit log (a `finalized` entry holding the signed content's sha256).
// Says exactly what fails: which file, expected and actual hash, missing file,
// sidecar edited, bad or missing signature, audit entries missing or broken.
// With recording.store, a file not on disk is checked in the bucket (stored-objects.ts),
// and an encrypted recording's bucket <id>.key must be its local one (stored-key-file.ts).
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { sha256File } from '../../util/sha256-file.ts';
import { pathInside } from '../file-names.ts';
import { derivedListFile, parseDerived, type DerivedFile } from '../derived-files.ts';
import type { RecordingMetadata } from '../metadata.ts';
import type { AuditReport } from './audit-verify.ts';
import { sha256Hex, signedSidecarText } from './canonical-json.ts';
import { checkSignature, readSignature, signatureFile } from './sidecar-signature.ts';
import type { VerifyKey } from './signing-key.ts';
import { compareStoredKeyFile } from '../encryption/stored-key-file.ts';
import { keyFileName } from '../encryption/key-file.ts';
import { checkStoredFile, storedSizes, type ObjectStore } from './stored-objects.ts';

export type ProblemKind =
  | 'sidecar-missing'
  | 'sidecar-unreadable'
  | 'not-finalized'
  | 'missing-file'
  | 'hash-mismatch'
  | 'not-a-file'
  | 'signature-missing'
  | 'signature-unreadable'
  | 'signature-key'
  | 'signature-bad'
  | 'sidecar-edited'
  | 'audit-missing-entry'
  | 'audit-sidecar-mismatch'
  | 'deleted'
  | 'bucket-unreachable'
  | 'stored-mismatch'
  | 'derived-list-unreadable'
  | 'derived-source'
  | 'key-missing';

export interface VerifyProblem {
  kind: ProblemKind;
  file?: string;
  expected?: string;
  actual?: string;
  /** Audit log line. */
  line?: number;
  message: string;
}

export interface FileCheck {
  file: string;
  expected: string | null;
  actual: string | null;
  ok: boolean;
  /** Checked in recording.store (not on disk): its object, not a local file. */
  stored: boolean;
  /** Made after signing (`parley recordings encode`): vouched for by `<id>.json.encoded`, not by the signature. */
  derived?: true;
}

export interface RecordingVerification {
  id: string;
  ok: boolean;
  /** `recording`: still being written (not checked); `deleted`: removed, the audit log says when. */
  state: 'verified' | 'failed' | 'recording' | 'deleted';
  files: FileCheck[];
  signature: 'valid' | 'invalid' | 'missing' | 'unchecked';
  problems: VerifyProblem[];
}

/** The files a sidecar vouches for, with the sha256 it holds (null: not hashed, e.g. lost). */
export function listedHashes(m: RecordingMetadata): { file: string; sha256: string | null; lost?: string }[] {
  const entries = [m.mix, ...(m.stereo ? [m.stereo] : []), ...(m.legs ?? []).flatMap((l) => l.stems ?? [])];
  return [
    ...entries.filter((e) => e && typeof e.file === 'string').map((e) => ({ file: e.file, sha256: e.sha256 ?? null, ...(e.lost !== undefined ? { lost: e.lost } : {}) })),
    ...(m.postProcessed ?? []).map((p) => ({ file: p.file, sha256: p.sha256 ?? null })),
    // SIPREC: every metadata version as received (hashed when the recording closed).
    ...(m.siprec?.metadataVersions ?? []).filter((v) => v && typeof v.file === 'string' && v.sha256 !== undefined).map((v) => ({ file: v.file, sha256: v.sha256 ?? null, ...(v.lost !== undefined ? { lost: v.lost } : {}) })),
  ];
}

/**
 * The files `parley recordings encode` made after signing: each must hash as its
 * list says and come from a file the signed sidecar lists with the hash it names.
 */
async function checkDerived(dir: string, id: string, meta: RecordingMetadata, v: RecordingVerification, fail: (p: VerifyProblem) => void): Promise<void> {
  const name = derivedListFile(id);
  let derived: DerivedFile[];
  try {
    derived = parseDerived(id, await readNoFollow(pathInside(dir, name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fail({ kind: 'derived-list-unreadable', file: name, message: `${name}: not a list of encoded files (${(err as Error).message})` });
    return;
  }
  const signed = new Map(listedHashes(meta).map((f) => [f.file, f.sha256]));
  for (const d of derived) {
    const check: FileCheck = { file: d.file, expected: d.sha256, actual: null, ok: false, stored: false, derived: true };
    v.files.push(check);
    if (!signed.has(d.source) || signed.get(d.source) !== d.sourceSha256) {
      fail({ kind: 'derived-source', file: d.file, message: `${d.file}: ${name} says it was made from ${d.source} (sha256 ${d.sourceSha256 ?? 'none'}), which the signed sidecar does not list so` });
    }
    let path: string;
    try {
      path = pathInside(dir, d.file);
    } catch {
      fail({ kind: 'not-a-file', file: d.file, message: `${d.file}: not a file name inside the recordings folder` });
      continue;
    }
    const st = await lstat(path).catch(() => null);
    if (!st?.isFile()) {
      fail({ kind: st ? 'not-a-file' : 'missing-file', file: d.file, message: `${d.file}: ${st ? 'not a regular file' : 'missing'} (${name} lists it with sha256 ${d.sha256})` });
      continue;
    }
    check.actual = await sha256File(path);
    check.ok = check.actual === d.sha256;
    if (!check.ok) fail({ kind: 'hash-mismatch', file: d.file, expected: d.sha256, actual: check.actual, message: `${d.file}: sha256 ${check.actual}, ${name} says ${d.sha256} (the file was altered)` });
  }
}

/**
 * A sealed recording needs its key file (not hashed: rotation rewrites it): on disk,
 * else (recording.store) its object; without either nothing can decrypt it.
 */
async function checkKeyFile(dir: string, id: string, file: string, bucket: ObjectStore | null, fail: (p: VerifyProblem) => void): Promise<void> {
  let path: string;
  try {
    path = pathInside(dir, file);
  } catch {
    fail({ kind: 'not-a-file', file, message: `${file}: not a file name inside the recordings folder (the sidecar's encryption.keyFile)` });
    return;
  }
  const st = await lstat(path).catch(() => null);
  if (st?.isFile()) return;
  if (st) {
    fail({ kind: 'not-a-file', file, message: `${file}: the recording's key file is not a regular file (${st.isSymbolicLink() ? 'a symlink' : 'something else'})` });
    return;
  }
  if (bucket) {
    const key = bucket.keyOf(id, file);
    let there: boolean;
    try {
      there = (await bucket.head(key)) !== null;
    } catch (err) {
      fail({ kind: 'bucket-unreachable', file, message: `${file}: the key file is not on disk; cannot check ${bucket.urlOf(key)}: bucket unreachable (${(err as Error).message})` });
      return;
    }
    if (!there) fail({ kind: 'key-missing', file, message: `${file}: the recording is encrypted and its key file is neither on disk nor in ${bucket.urlOf(key)}: nothing can decrypt it` });
    return;
  }
  fail({ kind: 'key-missing', file, message: `${file}: the recording is encrypted and its key file is missing: nothing can decrypt it` });
}

/** Where recording.store still holds a missing sidecar (a copy to restore from), or that it does not. */
async function storedSidecar(bucket: ObjectStore, id: string): Promise<string> {
  const key = bucket.keyOf(id, `${id}.json`);
  try {
    return (await bucket.head(key)) ? ` (${bucket.urlOf(key)} still holds a copy)` : ` (not in ${bucket.urlOf(key)} either)`;
  } catch (err) {
    return ` (the bucket cannot be checked: ${(err as Error).message})`;
  }
}

/** Reads a sidecar without following a link at its name. */
async function readNoFollow(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

export async function verifyRecording(o: {
  dir: string;
  id: string;
  key: VerifyKey | null;
  audit: AuditReport | null;
  /** recording.store: files not on disk are checked there; `deep` downloads and hashes them. */
  store?: { bucket: ObjectStore; deep: boolean } | null;
}): Promise<RecordingVerification> {
  const { dir, id } = o;
  const v: RecordingVerification = { id, ok: true, state: 'verified', files: [], signature: 'unchecked', problems: [] };
  const fail = (p: VerifyProblem): void => {
    v.ok = false;
    v.state = 'failed';
    v.problems.push(p);
  };
  const entries = o.audit?.byRecording.get(id) ?? [];
  let text: string;
  try {
    text = await readNoFollow(pathInside(dir, `${id}.json`));
  } catch (err) {
    const deleted = entries.findLast((e) => e.entry.event === 'deleted');
    if (deleted && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      v.state = 'deleted';
      v.problems.push({ kind: 'deleted', line: deleted.line, message: `deleted at ${deleted.entry.at} by ${deleted.entry.actor} (audit log line ${deleted.line})` });
      return v;
    }
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    // The sidecar is never removed but by a logged delete (the uploader keeps it): the
    // audit log saying the recording exists makes its absence a loss, named by line.
    const logged = entries.findLast((e) => e.entry.event === 'finalized') ?? entries.find((e) => e.entry.event === 'created');
    const said = logged ? `; the audit log says it was ${String(logged.entry.event)} at ${String(logged.entry.at)} (line ${logged.line}) and never deleted` : '';
    const copy = logged && code === 'ENOENT' && o.store ? await storedSidecar(o.store.bucket, id) : '';
    fail({ kind: 'sidecar-missing', file: `${id}.json`, ...(logged ? { line: logged.line } : {}), message: `the sidecar ${id}.json cannot be read: ${code}${said}${copy}` });
    return v;
  }
  let meta: RecordingMetadata;
  try {
    meta = JSON.parse(text) as RecordingMetadata;
    if (!meta || typeof meta !== 'object' || !meta.mix) throw new Error('not a recording sidecar');
  } catch (err) {
    fail({ kind: 'sidecar-unreadable', file: `${id}.json`, message: `the sidecar ${id}.json is not a recording's metadata: ${(err as Error).message}` });
    return v;
  }
  if (meta.state !== 'finalized') {
    if (meta.state === 'recording' || meta.state === 'closed') {
      v.state = 'recording';
      return v;
    }
    fail({ kind: 'not-finalized', file: `${id}.json`, message: `the sidecar says state '${String(meta.state)}'` });
  }

  const sizes = o.store ? storedSizes(entries) : null;
  for (const f of listedHashes(meta)) {
    if (f.lost !== undefined) continue;
    const check: FileCheck = { file: f.file, expected: f.sha256, actual: null, ok: false, stored: false };
    v.files.push(check);
    let path: string;
    try {
      path = pathInside(dir, f.file);
    } catch {
      fail({ kind: 'not-a-file', file: f.file, message: `${f.file}: not a file name inside the recordings folder` });
      continue;
    }
    const st = await lstat(path).catch(() => null);
    if (!st && o.store) {
      check.stored = true;
      const r = await checkStoredFile(o.store.bucket, id, f.file, f.sha256, sizes?.get(f.file), o.store.deep);
      check.actual = r.actual;
      check.ok = r.ok;
      if (r.problem) fail({ kind: r.problem.kind, file: f.file, expected: f.sha256 ?? undefined, ...(r.actual ? { actual: r.actual } : {}), message: r.problem.message });
      continue;
    }
    if (!st) {
      fail({ kind: 'missing-file', file: f.file, expected: f.sha256 ?? undefined, message: `${f.file}: missing (the sidecar lists it with sha256 ${f.sha256 ?? 'none'})` });
      continue;
    }
    if (!st.isFile()) {
      fail({ kind: 'not-a-file', file: f.file, message: `${f.file}: not a regular file (${st.isSymbolicLink() ? 'a symlink' : 'something else'})` });
      continue;
    }
    check.actual = await sha256File(path);
    check.ok = check.actual === f.sha256;
    if (!check.ok) {
      fail({ kind: 'hash-mismatch', file: f.file, expected: f.sha256 ?? undefined, actual: check.actual, message: `${f.file}: sha256 ${check.actual}, the sidecar says ${f.sha256 ?? 'none'} (the file was altered)` });
    }
  }

  await checkDerived(dir, id, meta, v, fail);
  if (meta.encryption) await checkKeyFile(dir, id, meta.encryption.keyFile, o.store?.bucket ?? null, fail);

  if (o.store) {
    // The bucket's <id>.key must be the local one: one left wrapped by a retired master key is undecryptable.
    try {
      const c = await compareStoredKeyFile(o.store.bucket, dir, id);
      if (c.state === 'differs') {
        fail({
          kind: 'stored-mismatch',
          file: keyFileName(id),
          ...(c.localKeyId ? { expected: c.localKeyId } : {}),
          ...(c.storedKeyId ? { actual: c.storedKeyId } : {}),
          message: `${c.url}: differs from the local ${keyFileName(id)} (wrapped by master key ${c.storedKeyId ?? '?'}, the local one by ${c.localKeyId ?? '?'}); run parley recordings rotate-key again to upload it`,
        });
      }
    } catch (err) {
      fail({ kind: 'bucket-unreachable', file: keyFileName(id), message: `${keyFileName(id)}: cannot compare with its bucket copy: bucket unreachable (${(err as Error).message})` });
    }
  }

  if (o.key) {
    let sig;
    try {
      sig = await readSignature(pathInside(dir, signatureFile(id)));
    } catch (err) {
      v.signature = 'invalid';
      fail({ kind: 'signature-unreadable', file: signatureFile(id), message: `${signatureFile(id)}: unreadable (${(err as Error).message})` });
    }
    if (sig === null) {
      v.signature = 'missing';
      fail({ kind: 'signature-missing', file: signatureFile(id), message: `${signatureFile(id)}: missing (the recording was never signed, or its signature was removed)` });
    } else if (sig) {
      const c = checkSignature(meta, sig, o.key);
      v.signature = c.ok ? 'valid' : 'invalid';
      if (!c.ok) fail({ kind: c.kind, file: c.kind === 'signature-bad' ? signatureFile(id) : `${id}.json`, expected: c.expected, actual: c.actual, message: c.message });
    }
  }

  if (o.audit) {
    const finalized = entries.findLast((e) => e.entry.event === 'finalized');
    if (!finalized) {
      fail({ kind: 'audit-missing-entry', message: `the audit log has no 'finalized' entry for ${id}` });
    } else {
      const actual = sha256Hex(signedSidecarText(meta));
      const logged = finalized.entry.sidecarSha256;
      if (logged !== actual) {
        fail({
          kind: 'audit-sidecar-mismatch',
          file: `${id}.json`,
          line: finalized.line,
          expected: String(logged),
          actual,
          message: `the sidecar's content (sha256 ${actual}) is not what the audit log recorded when it was finalized (line ${finalized.line}: ${String(logged)})`,
        });
      }
    }
  }
  return v;
}
