// A recording's data key, wrapped (AES-256-GCM) by the master key, in its own
// small file `<id>.key` beside the sidecar. It is kept apart from the sidecar so
// that rotating the master key rewrites only this file: the audio and the
// (signed) sidecar stay byte for byte as they were.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import type { MasterKey } from './master-key.ts';

export const KEY_SCHEME = 'aes-256-gcm-chunked-v1';

export interface KeyFile {
  version: 1;
  recording: string;
  scheme: typeof KEY_SCHEME;
  /** The id of the master key that wraps `wrapped` (master-key.ts masterKeyId). */
  keyId: string;
  /** base64 of iv (12) | wrapped data key (32) | tag (16). */
  wrapped: string;
  createdAt: string;
  rotatedAt: string | null;
}

export class KeyUnwrapError extends Error {
  override name = 'KeyUnwrapError';
  constructor(
    message: string,
    /** 'wrong_key': another master key wraps it; 'corrupt': the key file does not authenticate or parse; 'missing': no key file. */
    readonly reason: 'wrong_key' | 'corrupt' | 'missing',
  ) {
    super(message);
  }
}

export function keyFileName(id: string): string {
  return `${id}.key`;
}

function aad(recording: string): Buffer {
  return Buffer.from(`parley-recording-data-key\0${recording}`, 'utf8');
}

export function wrapDataKey(master: MasterKey, recording: string, dataKey: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master.key, iv);
  c.setAAD(aad(recording));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}

export function unwrapDataKey(masters: MasterKey[], k: KeyFile): Buffer {
  const master = masters.find((m) => m.id === k.keyId);
  if (!master) {
    throw new KeyUnwrapError(
      `recording ${k.recording}: its data key is wrapped by master key ${k.keyId}, and the key given is ${masters.map((m) => m.id).join(', ')} ` +
        '(configure that master key, or rotate with it as --old-key-file)',
      'wrong_key',
    );
  }
  const raw = Buffer.from(k.wrapped, 'base64');
  if (raw.length !== 12 + 32 + 16) throw new KeyUnwrapError(`recording ${k.recording}: the wrapped data key has ${raw.length} bytes, not 60`, 'corrupt');
  const d = createDecipheriv('aes-256-gcm', master.key, raw.subarray(0, 12));
  d.setAAD(aad(k.recording));
  d.setAuthTag(raw.subarray(44));
  try {
    return Buffer.concat([d.update(raw.subarray(12, 44)), d.final()]);
  } catch {
    throw new KeyUnwrapError(`recording ${k.recording}: master key ${master.id} does not unwrap its data key (the key file was altered)`, 'corrupt');
  }
}

export function newKeyFile(master: MasterKey, recording: string, dataKey: Buffer): KeyFile {
  return {
    version: 1,
    recording,
    scheme: KEY_SCHEME,
    keyId: master.id,
    wrapped: wrapDataKey(master, recording, dataKey),
    createdAt: new Date().toISOString(),
    rotatedAt: null,
  };
}

export async function readKeyFile(path: string, recording: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KeyUnwrapError(`recording ${recording}: no key file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'missing');
  }
  return parseKeyFile(text, recording);
}

export function parseKeyFile(text: string, recording: string): KeyFile {
  let k: KeyFile;
  try {
    k = JSON.parse(text) as KeyFile;
  } catch {
    throw new KeyUnwrapError(`recording ${recording}: its key file is not JSON`, 'corrupt');
  }
  if (k.version !== 1 || k.scheme !== KEY_SCHEME || typeof k.wrapped !== 'string' || typeof k.keyId !== 'string') {
    throw new KeyUnwrapError(`recording ${recording}: its key file is not a version 1 ${KEY_SCHEME} key file`, 'corrupt');
  }
  if (k.recording !== recording) throw new KeyUnwrapError(`recording ${recording}: its key file belongs to recording ${k.recording}`, 'corrupt');
  return k;
}

/** Atomically (temp, fsync, rename): the key must be on disk before any audio it seals. */
export async function writeKeyFile(path: string, k: KeyFile): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(k, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
