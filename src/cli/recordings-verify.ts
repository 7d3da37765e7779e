// `parley recordings verify [ID | --all]`: checks recordings on disk, offline (no
// server needed): each file's sha256 against its sidecar, the sidecar's Ed25519
// signature against the trusted public key, and the audit log's chain and signed
// head; prints exactly what fails. The trusted key is `--public-key FILE` (PEM),
// else the public half of recording.signing.keyFile, else of the key generated in
// <recording.dir>/.parley/. With recording.store, a file not on disk (removed after
// its upload verified) is checked in the bucket: its object's size and sha256
// metadata, or, with --deep, its bytes downloaded and hashed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParleyConfig } from '../config/schema.ts';
import { verifyAuditLog } from '../recording/compliance/audit-verify.ts';
import { defaultAuditLog, stateDir } from '../recording/compliance/compliance-service.ts';
import { verifyRecording, type RecordingVerification } from '../recording/compliance/recording-verifier.ts';
import { VerifyKey } from '../recording/compliance/signing-key.ts';
import { S3Bucket } from '../recording/store/s3-bucket.ts';
import { CliError } from './cli-error.ts';

export interface VerifyOutcome {
  ok: boolean;
  text: string;
  json: unknown;
}

const SIDECAR = /^([A-Za-z0-9_][A-Za-z0-9._-]{0,200})\.json$/;

async function trustedKey(config: ParleyConfig, publicKeyFile: string | undefined): Promise<VerifyKey> {
  const file = publicKeyFile ?? config.recording.signing.keyFile ?? join(stateDir(config.recording.dir), 'signing-key.pem');
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the signing key ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --public-key FILE`, 2);
  }
  try {
    return VerifyKey.fromPem(pem);
  } catch (err) {
    throw new CliError(`${file}: not an Ed25519 key: ${(err as Error).message}`, 2);
  }
}

export async function verifyRecordings(config: ParleyConfig, o: { id?: string; all: boolean; publicKey?: string; deep?: boolean }): Promise<VerifyOutcome> {
  if (!o.id && !o.all) throw new CliError('usage: parley recordings verify ID | --all [--deep] [--public-key FILE] [--json]');
  const dir = config.recording.dir;
  const key = await trustedKey(config, o.publicKey);
  const audit = await verifyAuditLog(config.recording.auditLog ?? defaultAuditLog(dir), key);
  let ids: string[];
  if (o.id) ids = [o.id];
  else {
    // The sidecars on disk and every recording the audit log says was created or
    // finalized: one removed by hand (no `deleted` entry) fails, a deleted one is DELETED.
    const names = await readdir(dir).catch(() => [] as string[]);
    const all = new Set(names.flatMap((n) => SIDECAR.exec(n)?.[1] ?? []));
    for (const [id, entries] of audit.byRecording) {
      if (entries.some((e) => e.entry.event === 'created' || e.entry.event === 'finalized')) all.add(id);
    }
    ids = [...all].sort();
  }
  const results: RecordingVerification[] = [];
  const bucket = config.recording.store ? new S3Bucket(config.recording.store) : null;
  try {
    const store = bucket ? { bucket, deep: o.deep ?? false } : null;
    for (const id of ids) results.push(await verifyRecording({ dir, id, key, audit, store }));
  } finally {
    bucket?.close();
  }
  const lines: string[] = [];
  for (const r of results) {
    const stored = r.files.filter((f) => f.stored).length;
    const where = stored > 0 ? ` (${stored} of ${r.files.length} files checked in ${bucket!.urlOf(bucket!.prefix)}${o.deep ? ', downloaded and hashed' : ', by size and sha256 metadata'})` : '';
    lines.push(`${r.state === 'verified' ? 'OK     ' : r.state === 'failed' ? 'FAILED ' : r.state === 'deleted' ? 'DELETED' : 'OPEN   '} ${r.id}${where}`);
    for (const p of r.problems) lines.push(`        ${p.message}`);
  }
  lines.push(`audit log ${audit.file}: ${audit.ok ? 'OK' : 'FAILED'} (${audit.lines} lines)`);
  for (const p of audit.problems) lines.push(`        ${p.message}`);
  const failed = results.filter((r) => r.state === 'failed').length;
  const count = (s: RecordingVerification['state']): number => results.filter((r) => r.state === s).length;
  lines.push(`${count('verified')} verified, ${failed} failed, ${count('recording')} still recording, ${count('deleted')} deleted; key ${key.id.slice(0, 16)}…`);
  const ok = failed === 0 && audit.ok && (o.all || results[0]?.state !== 'failed');
  return {
    ok,
    text: lines.join('\n'),
    json: { ok, keyId: key.id, recordings: results, audit: { ok: audit.ok, file: audit.file, lines: audit.lines, lastSeq: audit.lastSeq, problems: audit.problems } },
  };
}
