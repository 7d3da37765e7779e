// The recording I/O thread (see recording-io.ts): runs the batches of file
// operations the main thread sends, one message per batch, and answers each
// batch with one message. Plain JavaScript (no TypeScript hooks to load).
// Writes, opens, truncates and closes are synchronous here (this thread does
// nothing else, so nothing waits behind them but other recording I/O); fsync
// and the read-back that hashes a closed file run on libuv's pool (they may
// take long: the next batches are not held up), each answered in a message of
// its own when done.
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, read, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';

const HASH_READ_BYTES = 256 * 1024;

function fail(err) {
  return { message: err?.message ?? String(err), code: err?.code ?? null };
}

function createNew(path) {
  try {
    return openSync(path, 'wx+');
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'wx+');
}

function writeAtomic(path, text) {
  const tmp = `${path}.tmp`;
  try {
    try {
      writeFileSync(tmp, text);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(tmp, text);
    }
    renameSync(tmp, path);
  } catch (err) {
    // A failed write (a full disk) leaves no temp file behind.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing more to do
    }
    throw err;
  }
}

function sha256Of(fd, done) {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
  const next = (at) =>
    read(fd, buf, 0, buf.length, at, (err, n) => {
      if (err) return done(err);
      if (n === 0) return done(null, h.digest('hex'));
      h.update(buf.subarray(0, n));
      next(at + n);
    });
  next(0);
}

parentPort.on('message', ({ ops, payload }) => {
  const data = payload ? new Uint8Array(payload) : null;
  const results = [];
  for (const op of ops) {
    if (op.kind === 'sync' || op.kind === 'sha256') {
      const answer = (err, value = null) => parentPort.postMessage({ results: [err ? { id: op.id, ok: false, error: fail(err) } : { id: op.id, ok: true, value }] });
      if (op.kind === 'sync') fsync(op.fd, (err) => answer(err));
      else sha256Of(op.fd, answer);
      continue;
    }
    try {
      let value = null;
      switch (op.kind) {
        case 'create':
          value = createNew(op.path);
          break;
        case 'write':
          value = writeSync(op.fd, data, op.at, op.length, op.position);
          break;
        case 'truncate':
          ftruncateSync(op.fd, op.length);
          break;
        case 'close':
          closeSync(op.fd);
          break;
        case 'writeAtomic':
          writeAtomic(op.path, op.text);
          break;
        default:
          throw new Error(`unknown recording I/O operation ${op.kind}`);
      }
      results.push({ id: op.id, ok: true, value });
    } catch (err) {
      results.push({ id: op.id, ok: false, error: fail(err) });
    }
  }
  if (results.length > 0) parentPort.postMessage({ results });
});
