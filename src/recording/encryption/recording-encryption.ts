// Encryption at rest of recordings (config recording.encryption): the master key,
// a fresh random data key per recording (wrapped into `<id>.key`), the sealers
// its files are written with, and unwrapping for whoever reads them back.
import { randomBytes } from 'node:crypto';
import { pathInside } from '../file-names.ts';
import { keyFileName, newKeyFile, readKeyFile, unwrapDataKey, writeKeyFile, type KeyFile } from './key-file.ts';
import { loadMasterKey, type MasterKey, type MasterKeySource } from './master-key.ts';
import { PcmSealer } from './pcm-sealer.ts';
import { readStoredKeyFile, type KeyObjectStore } from './stored-key.ts';

export interface EncryptionConfig extends MasterKeySource {
  enabled: boolean;
}

/** What the sidecar says about a recording's encryption (no key material, nothing that changes on rotation). */
export interface EncryptionEntry {
  scheme: 'aes-256-gcm-chunked-v1';
  /** The wrapped data key's file, beside the sidecar. */
  keyFile: string;
}

export interface RecordingKeys {
  entry: EncryptionEntry;
  /** A sealer for one file of the recording. */
  sealer(channels: number, sampleRate: number): PcmSealer;
}

export class RecordingEncryption {
  constructor(
    readonly master: MasterKey,
    /** Master keys of earlier rotations still accepted for reading. */
    readonly previous: MasterKey[] = [],
  ) {}

  static async fromConfig(c: EncryptionConfig | undefined): Promise<RecordingEncryption | null> {
    if (!c?.enabled) return null;
    return new RecordingEncryption(await loadMasterKey(c));
  }

  /**
   * A new data key for recording `id` in `dir`. Synchronous (the recorder is built
   * on a tick); the key file is written by the first sealer's `ready()`, before
   * any audio: a failure (a full disk) is retried by the next flush.
   */
  newRecording(dir: string, id: string): RecordingKeys {
    const dataKey = randomBytes(32);
    const file = keyFileName(id);
    const k = newKeyFile(this.master, id, dataKey);
    let written: Promise<void> | null = null;
    const ready = (): Promise<void> => {
      written ??= writeKeyFile(pathInside(dir, file), k).catch((err: unknown) => {
        written = null;
        throw err;
      });
      return written;
    };
    return {
      entry: { scheme: 'aes-256-gcm-chunked-v1', keyFile: file },
      sealer: (channels, sampleRate) => new PcmSealer(dataKey, channels, sampleRate, ready),
    };
  }

  /** The data key of recording `id` in `dir`; KeyUnwrapError says precisely why not. */
  async dataKey(dir: string, id: string): Promise<Buffer> {
    return this.unwrap(await readKeyFile(pathInside(dir, keyFileName(id)), id));
  }

  /** Like dataKey; a key file missing on disk is read from recording.store's `<id>.key` object. */
  async storedDataKey(dir: string, id: string, bucket: KeyObjectStore | null | undefined): Promise<Buffer> {
    return this.unwrap((await readStoredKeyFile(dir, id, bucket)).k);
  }

  unwrap(k: KeyFile): Buffer {
    return unwrapDataKey([this.master, ...this.previous], k);
  }
}
