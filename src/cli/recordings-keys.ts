// `parley recordings rotate-key` and `parley recordings decrypt`: offline tools on
// recording.dir (no server needed) for encrypted recordings (recording.encryption).
// rotate-key re-wraps every data key with the configured (new) master key, taking
// the old one from --old-key-file or --old-key-env; the audio is not rewritten.
// With recording.store, every key file whose bucket copy differs from it (re-wrapped
// now, or by an earlier run whose upload failed) is uploaded again (and verified).
// decrypt writes one file of a recording as a WAV, streaming: from the local file,
// or from the bucket when the uploader removed it; --partial reads a file a kill -9
// left unrepaired up to its last whole chunk. It writes `<out>.part` and renames it
// once whole; a failure removes it.
import { createReadStream, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ParleyConfig } from '../config/schema.ts';
import { decryptChunks, decryptedWav, type ByteSource, type DecryptSummary } from '../recording/encryption/decrypt-reader.ts';
import { keyFileName } from '../recording/encryption/key-file.ts';
import { loadMasterKey, type MasterKey } from '../recording/encryption/master-key.ts';
import { RecordingEncryption } from '../recording/encryption/recording-encryption.ts';
import { rotateKeys } from '../recording/encryption/rotate-keys.ts';
import { compareStoredKeyFile } from '../recording/encryption/stored-key-file.ts';
import { pathInside } from '../recording/file-names.ts';
import { S3Bucket } from '../recording/store/s3-bucket.ts';
import { wavHeader } from '../recording/wav-disk-file.ts';
import { CliError } from './cli-error.ts';

async function configuredKey(config: ParleyConfig): Promise<MasterKey> {
  const e = config.recording.encryption;
  if (!e?.enabled) throw new CliError('recording.encryption is not enabled in this config', 2);
  return loadMasterKey(e);
}

export async function rotateKeyCommand(config: ParleyConfig, oldKeyFile: string | undefined, oldKeyEnv: string | undefined): Promise<string> {
  if (!oldKeyFile === !oldKeyEnv) throw new CliError('usage: parley recordings rotate-key (--old-key-file FILE | --old-key-env VAR)');
  const next = await configuredKey(config);
  const old = await loadMasterKey({ masterKeyFile: oldKeyFile, masterKeyEnv: oldKeyEnv }).catch((err: unknown) => {
    throw new CliError(`the old master key: ${(err as Error).message.replace(/recording\.encryption\.masterKey(File|Env)/, '--old-key-$1')}`);
  });
  const dir = config.recording.dir;
  const r = await rotateKeys(dir, next, [old]);
  const lines = [`${r.rotated.length} data keys re-wrapped from master key ${old.id} to ${next.id}, ${r.current.length} already under it, ${r.failed.length} failed`];
  for (const f of r.failed) lines.push(`  ${f.id}: ${f.error}`);
  if (r.orphaned.length > 0) lines.push(`${r.orphaned.length} key files of deleted recordings (no sidecar) left as they are, not uploaded: ${r.orphaned.slice(0, 10).map((id) => `${id}.key`).join(', ')}${r.orphaned.length > 10 ? ', …' : ''}`);
  if (config.recording.store) {
    // Every key file is compared with its bucket copy, not only those re-wrapped in this
    // run: a run whose upload failed (bucket down) re-wrapped them already, and the next
    // run finds them "already under it". The server's upload journal is not used: the
    // server owns it (rewrites it whole from memory), an entry written here would be lost.
    const bucket = new S3Bucket(config.recording.store);
    let uploaded = 0;
    let absent = 0;
    try {
      for (const id of [...r.rotated, ...r.current].sort()) {
        const c = await compareStoredKeyFile(bucket, dir, id);
        if (c.state === 'absent') absent++;
        if (c.state !== 'differs') continue;
        const file = keyFileName(id);
        const path = pathInside(dir, file);
        const data = await readFile(path);
        const md5 = createHash('md5').update(data).digest();
        await bucket.put(bucket.keyOf(id, file), path, data.length, md5, createHash('sha256').update(data).digest('hex'));
        const h = await bucket.head(bucket.keyOf(id, file));
        if (!h || h.size !== data.length) throw new Error(`${bucket.urlOf(bucket.keyOf(id, file))} does not verify`);
        uploaded++;
      }
    } catch (err) {
      lines.push(
        `uploading the key files stopped after ${uploaded}: ${(err as Error).message}; the bucket's copies of the others may still be wrapped by the old master key: ` +
          'run rotate-key again once the bucket is reachable (it compares every key file with its bucket copy and uploads those that differ), and keep the old master key until it succeeds',
      );
      throw new CliError(lines.join('\n'));
    } finally {
      bucket.close();
    }
    lines.push(`${uploaded} key files uploaded again to ${config.recording.store.bucket} (the others' bucket copies are current${absent > 0 ? `; ${absent} not in the bucket yet, uploaded with their recordings` : ''})`);
  }
  if (r.failed.length > 0) throw new CliError(lines.join('\n'));
  return lines.join('\n');
}

export async function decryptCommand(config: ParleyConfig, id: string | undefined, file: string | undefined, out: string | undefined, partial: boolean): Promise<string> {
  if (!id || !file || !out) throw new CliError('usage: parley recordings decrypt ID FILE --out PATH [--partial]');
  const enc = new RecordingEncryption(await configuredKey(config));
  const dir = config.recording.dir;
  const keyBucket = config.recording.store ? new S3Bucket(config.recording.store) : null;
  const key = await enc
    .storedDataKey(dir, id, keyBucket)
    .catch((err: unknown) => {
      throw new CliError((err as Error).message);
    })
    .finally(() => keyBucket?.close());
  const path = pathInside(dir, file);
  const local = await stat(path).catch(() => null);
  let bucket: S3Bucket | null = null;
  let src: ByteSource;
  if (local) {
    src = { size: local.size, read: (start, end) => createReadStream(path, { start, end }) };
  } else {
    if (!config.recording.store) throw new CliError(`no file ${file} in ${dir}`);
    const b = (bucket = new S3Bucket(config.recording.store));
    const k = b.keyOf(id, file);
    const h = await b.head(k);
    if (!h) throw new CliError(`${file} is neither in ${dir} nor in ${b.urlOf(k)}`);
    src = {
      size: h.size,
      read: async (start, end) => (await b.get(k, start, end))!.stream,
    };
  }
  // Written to `<out>.part`, renamed once whole: a chunk that does not authenticate
  // leaves nothing at --out (a WAV cut short there would pass for a short recording).
  const part = `${out}.part`;
  try {
    if (!partial) {
      const { size, stream } = await decryptedWav(src, key, file);
      await pipeline(stream, createWriteStream(part));
      await rename(part, out);
      return `${out}: ${size} bytes (WAV)`;
    }
    // Up to the last whole chunk; the header is written last, when the length is known.
    const ws = createWriteStream(part);
    ws.write(Buffer.alloc(44));
    const summary: Partial<DecryptSummary> = {};
    await pipeline(Readable.from(decryptChunks((await src.read(0)) as AsyncIterable<Buffer>, key, file, true, summary)), ws, { end: true });
    const fh = await open(part, 'r+');
    try {
      await fh.write(wavHeader(summary.plainBytes ?? 0, summary.header!.sampleRate, summary.header!.channels), 0, 44, 0);
    } finally {
      await fh.close();
    }
    await rename(part, out);
    return `${out}: ${44 + (summary.plainBytes ?? 0)} bytes (WAV)${summary.complete ? '' : ', up to the last whole chunk (the file was cut short)'}`;
  } catch (err) {
    await rm(part, { force: true });
    throw new CliError(`${file}: ${(err as Error).message}`);
  } finally {
    bucket?.close();
  }
}
