// The master key of recording encryption: 32 bytes from a file or an environment
// variable (raw, 64 hex digits, or base64). Its id (the first 16 hex digits of
// its SHA-256) is stored with every wrapped data key, so that a recording tells
// which master key it needs, and rotation knows what is still to re-wrap.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface MasterKeySource {
  masterKeyFile?: string | null;
  masterKeyEnv?: string | null;
}

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('parley-recording-master-key\0').update(key).digest('hex').slice(0, 16);
}

/** 32 raw bytes, or their 64 hex digits, or their base64 (whitespace around is ignored). */
export function parseMasterKey(data: Buffer, where: string): MasterKey {
  let key: Buffer | null = null;
  if (data.length === 32) key = Buffer.from(data);
  else {
    const text = data.toString('utf8').trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) key = Buffer.from(text, 'base64');
  }
  if (!key || key.length !== 32) {
    throw new MasterKeyError(`${where}: a master key is 32 bytes (raw, 64 hex digits or base64), not ${data.length} bytes of something else`);
  }
  return { id: masterKeyId(key), key };
}

export async function loadMasterKey(src: MasterKeySource, env: NodeJS.ProcessEnv = process.env): Promise<MasterKey> {
  if (src.masterKeyFile) {
    let data: Buffer;
    try {
      data = await readFile(src.masterKeyFile);
    } catch (err) {
      throw new MasterKeyError(`recording.encryption.masterKeyFile: cannot read ${src.masterKeyFile}: ${(err as Error).message}`);
    }
    return parseMasterKey(data, `recording.encryption.masterKeyFile (${src.masterKeyFile})`);
  }
  if (src.masterKeyEnv) {
    const v = env[src.masterKeyEnv];
    if (v === undefined || v === '') throw new MasterKeyError(`recording.encryption.masterKeyEnv: the environment variable ${src.masterKeyEnv} is not set`);
    return parseMasterKey(Buffer.from(v, 'utf8'), `recording.encryption.masterKeyEnv (${src.masterKeyEnv})`);
  }
  throw new MasterKeyError('recording.encryption: masterKeyFile or masterKeyEnv is required');
}
