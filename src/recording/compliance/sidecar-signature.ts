// A finalized recording's signature: `<id>.json.sig` beside the sidecar, a small
// JSON file holding an Ed25519 signature over the sidecar's canonical JSON without
// `updatedAt` (canonical-json.ts), which includes the sha256 of every audio file.
// Written atomically (temp file + rename, removed if that fails), in the recording
// I/O thread with the sidecars' writes (one batched call, not four calls to libuv's pool).
import { readFile } from 'node:fs/promises';
import { recordingIo } from '../io/recording-io.ts';
import type { RecordingMetadata } from '../metadata.ts';
import { sha256Hex, signedSidecarText } from './canonical-json.ts';
import type { SigningKey, VerifyKey } from './signing-key.ts';

export interface SidecarSignature {
  version: 1;
  alg: 'Ed25519';
  /** sha256 of the signing key's DER SubjectPublicKeyInfo. */
  keyId: string;
  recording: string;
  /** sha256 of the signed text: the sidecar's canonical JSON without updatedAt. */
  sha256: string;
  signature: string;
  signedAt: string;
}

export function signatureFile(id: string): string {
  return `${id}.json.sig`;
}

export function signSidecar(id: string, meta: RecordingMetadata, key: SigningKey): SidecarSignature {
  const text = signedSidecarText(meta);
  return { version: 1, alg: 'Ed25519', keyId: key.id, recording: id, sha256: sha256Hex(text), signature: key.sign(text), signedAt: new Date().toISOString() };
}

export async function writeSignature(path: string, sig: SidecarSignature): Promise<void> {
  await recordingIo().writeAtomic(path, JSON.stringify(sig, null, 2) + '\n', 0o644);
}

export async function readSignature(path: string): Promise<SidecarSignature | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SidecarSignature;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; kind: 'signature-key' | 'sidecar-edited' | 'signature-bad'; message: string; expected?: string; actual?: string };

/** Whether `sig` is the trusted key's signature of this sidecar content. */
export function checkSignature(meta: unknown, sig: SidecarSignature, key: VerifyKey): SignatureCheck {
  if (sig.keyId !== key.id) {
    return { ok: false, kind: 'signature-key', message: `signed by key ${String(sig.keyId).slice(0, 16)}…, not the trusted key ${key.id.slice(0, 16)}…`, expected: key.id, actual: String(sig.keyId) };
  }
  const text = signedSidecarText(meta as object);
  const actual = sha256Hex(text);
  if (actual !== sig.sha256) {
    return { ok: false, kind: 'sidecar-edited', message: `the sidecar was edited after it was signed: its content has sha256 ${actual}, the signed content ${sig.sha256}`, expected: sig.sha256, actual };
  }
  if (!key.verify(text, sig.signature)) return { ok: false, kind: 'signature-bad', message: 'the signature does not verify with the trusted key (the signature file was altered)' };
  return { ok: true };
}
