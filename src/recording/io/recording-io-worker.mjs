// The recording I/O thread (see recording-io.ts): runs the batches of file
// operations the main thread sends, one message per batch, and answers each
// batch with one message. Plain JavaScript (no TypeScript hooks to load).
// Writes, opens, truncates and closes are synchronous here (this thread does
// nothing else, so nothing waits behind them but other recording I/O); fsync
// and the read-back that hashes a closed file run on libuv's pool (they may
// take long: the next batches are not held up), each answered in a message of
// its own when done.
//
// The batch's buffer (its writes' bytes) is transferred back with the batch's
// answer, once every write in it has run: the main thread uses it again.
//
// Calls marked `resent` were sent to a thread that died before answering them
// (recording-io.ts); the dead thread's descriptors are still open, and this one
// makes up for what it may have done: a create adopts the descriptor the dead
// thread left open on the file, a close closes the number only if it still names
// its file, an atomic write first closes a descriptor left open on its temp file.
import { appendFileSync, closeSync, fstatSync, fsync, ftruncateSync, mkdirSync, openSync, read, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import process from 'node:process';
import { parentPort } from 'node:worker_threads';

const HASH_READ_BYTES = 256 * 1024;

// The OS thread's name (Linux), so that top -H, perf and /proc/<pid>/task show this thread.
try {
  writeFileSync('/proc/thread-self/comm', 'parley-rec-io');
} catch {
  // not Linux, or /proc is not mounted: the name is only a help
}

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

function sameFile(a, b) {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Descriptors by `dev:ino`: one scan of /proc/self/fd per batch that needs it (a batch of resent calls may hold hundreds). */
let scanned = null;

/** The process's descriptors open on the file at `path` (none if it does not exist). */
function descriptorsOn(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [];
  }
  if (!scanned) {
    scanned = new Map();
    for (const name of readdirSync('/proc/self/fd')) {
      const fd = Number(name);
      try {
        const f = fstatSync(fd);
        const key = `${f.dev}:${f.ino}`;
        scanned.set(key, [...(scanned.get(key) ?? []), fd]);
      } catch {
        // closed meanwhile (the directory's own descriptor, another thread's)
      }
    }
  }
  // Checked again: a number seen in the scan may have been closed and reused since.
  return (scanned.get(`${st.dev}:${st.ino}`) ?? []).filter((fd) => {
    try {
      return sameFile(fstatSync(fd), st);
    } catch {
      return false;
    }
  });
}

/** A create whose thread died: new, or the descriptor the dead thread opened on it (only an open descriptor proves the file is ours). */
function createAgain(path) {
  try {
    return createNew(path);
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    const [fd, ...extra] = descriptorsOn(path);
    if (fd === undefined) throw err;
    for (const x of extra) closeSync(x);
    return fd;
  }
}

/** A close whose thread died: only if `fd` still names the file at `path` (the number may belong to another file now). */
function closeAgain(fd, path) {
  if (!path) return;
  let a;
  let b;
  try {
    a = fstatSync(fd);
    b = statSync(path);
  } catch {
    return; // closed (EBADF), or the file is gone: nothing of ours to close
  }
  if (sameFile(a, b)) closeSync(fd);
}

function writeAtomic(path, text, mode) {
  const tmp = `${path}.tmp`;
  const options = mode === undefined ? undefined : { mode };
  try {
    try {
      writeFileSync(tmp, text, options);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(tmp, text, options);
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

function append(path, text) {
  try {
    appendFileSync(path, text);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, text);
  }
}

/** A file's size; 0 when it is missing or cannot be stat'ed. */
function sizeOf(path) {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The sha256 of the file behind `fd`, read back on libuv's pool. A short read is the end of
 * a regular file (a positional read returns fewer bytes only there), so a file shorter than
 * HASH_READ_BYTES costs one read, not two (the second would only have returned 0).
 */
function sha256Of(fd, done) {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
  const next = (at) =>
    read(fd, buf, 0, buf.length, at, (err, n) => {
      if (err) return done(err);
      if (n > 0) h.update(buf.subarray(0, n));
      if (n < buf.length) return done(null, h.digest('hex'));
      next(at + n);
    });
  next(0);
}

parentPort.on('message', ({ ops, payload }) => {
  scanned = null;
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
          value = op.resent ? createAgain(op.path) : createNew(op.path);
          break;
        case 'write':
          value = writeSync(op.fd, data, op.at, op.length, op.position);
          break;
        case 'truncate':
          ftruncateSync(op.fd, op.length);
          break;
        case 'close':
          if (op.resent) closeAgain(op.fd, op.path);
          else closeSync(op.fd);
          break;
        case 'writeAtomic':
          if (op.resent) for (const fd of descriptorsOn(`${op.path}.tmp`)) closeSync(fd);
          writeAtomic(op.path, op.text, op.mode);
          break;
        case 'append':
          append(op.path, op.text);
          break;
        case 'sizes':
          value = op.paths.map(sizeOf);
          break;
        case 'exit':
          process.exit(70); // test hook: dies with the batch run but unanswered
          break;
        default:
          throw new Error(`unknown recording I/O operation ${op.kind}`);
      }
      results.push({ id: op.id, ok: true, value });
    } catch (err) {
      results.push({ id: op.id, ok: false, error: fail(err) });
    }
  }
  // The batch's buffer goes back to the main thread to be used again: every write in it
  // is done (they are synchronous above), and the transfer detaches it here.
  if (payload) parentPort.postMessage({ results, payload }, [payload]);
  else if (results.length > 0) parentPort.postMessage({ results });
});
