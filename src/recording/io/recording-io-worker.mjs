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
import { appendFileSync, closeSync, fstatSync, fsync, ftruncateSync, linkSync, mkdirSync, openSync, read, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';

const HASH_READ_BYTES = 256 * 1024;
/** Read-back buffers kept for the next hashes (a new 256 KiB one per file was external memory for the GC). */
const MAX_HASH_BUFFERS = 4;
const hashBuffers = [];

// PARLEY_REC_IO_STATS=1 (benches): each operation is timed (wall clock, in this
// thread) and counted by kind; a 'stats' call answers with the totals.
const STATS = process.env.PARLEY_REC_IO_STATS === '1' ? { batches: 0, batchMs: 0, ops: {} } : null;

function noteOp(kind, ms, bytes = 0) {
  const k = (STATS.ops[kind] ??= { n: 0, ms: 0, bytes: 0 });
  k.n++;
  k.ms += ms;
  k.bytes += bytes;
}

// The OS thread's name (Linux), so that top -H, perf and /proc/<pid>/task show this thread.
try {
  writeFileSync('/proc/thread-self/comm', 'parley-rec-io');
} catch {
  // not Linux, or /proc is not mounted: the name is only a help
}

// PARLEY_THREAD_CPU_PROF_DIR (profiling aid, benches only): as the media threads do,
// this thread profiles itself through the inspector (a .cpuprofile every 5 s).
if (process.env.PARLEY_THREAD_CPU_PROF_DIR) {
  const { startThreadProfiler } = await import('../../media-plane/thread/thread-profiler.mjs');
  await startThreadProfiler(process.env.PARLEY_THREAD_CPU_PROF_DIR);
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

/**
 * `text` to `path` atomically: written to `${path}.tmp`, renamed over `path`, so that a
 * kill -9 at any point leaves `path` a complete version (the new one or the one before).
 * A temp file already there is written over in place (its inode, pwrite and ftruncate)
 * rather than replaced by a new file. When this fails (a full disk) no temp file is left.
 *
 * `keepTemp` (a file rewritten every second: a recording's sidecar while it records): the
 * inode `path` had becomes the next call's temp file (linked to `${path}.1.tmp` before the
 * rename, renamed to `${path}.tmp` after it), so a rewrite neither allocates nor frees an
 * inode; a small file frees no block either, and leaves the rename no delayed allocation
 * to flush. Freed inodes are what made creates this thread's biggest cost: ext4 (without a
 * journal) skips each recently freed inode one by one when it allocates one, and a new
 * plus a freed inode per recording per second made every create in the recordings folder
 * slower (bench:rec-io). The next call without keepTemp takes the temp file along (none is
 * left); a kill -9 may leave `.json.tmp` and `.json.1.tmp`, which the next start removes
 * (recover-recordings.ts). A reader that opened `path` a version ago may see that inode
 * rewritten (a sidecar is read whole at once: not an issue there).
 */
function writeAtomic(path, text, mode, keepTemp) {
  const tmp = `${path}.tmp`;
  const spare = `${path}.1.tmp`;
  let kept = false;
  try {
    writeTemp(tmp, path, text, mode);
    if (keepTemp) kept = linkSpare(path, spare);
    renameSync(tmp, path);
  } catch (err) {
    // A failed write (a full disk) leaves no temp file behind.
    removeQuietly(tmp);
    removeQuietly(spare);
    throw err;
  }
  if (!kept) return;
  try {
    renameSync(spare, tmp);
  } catch {
    // `path` is written: the next call makes a new temp file.
    removeQuietly(spare);
  }
}

/** `text` into the file at `tmp`: over its inode when it exists, else a new file (and its folder, that of `path`, when missing). */
function writeTemp(tmp, path, text, mode) {
  let fd;
  try {
    fd = openSync(tmp, 'r+');
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    try {
      fd = openSync(tmp, 'w', mode);
    } catch (err2) {
      if (err2.code !== 'ENOENT') throw err2;
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(tmp, 'w', mode);
    }
  }
  try {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length; ) {
      const n = writeSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) throw Object.assign(new Error(`${tmp}: the disk took no bytes`), { code: 'EIO' });
      off += n;
    }
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}

/** A second name for the inode at `path` (the version about to be replaced); false when there is none, or links are not possible here. */
function linkSpare(path, spare) {
  try {
    linkSync(path, spare);
    return true;
  } catch (err) {
    if (err.code !== 'EEXIST') return false; // ENOENT: no version yet; EPERM, EXDEV…: no hard links on this file system
  }
  // Left by a thread that died in the middle of this call: the version it names is not needed.
  try {
    unlinkSync(spare);
    linkSync(path, spare);
    return true;
  } catch {
    return false;
  }
}

function removeQuietly(path) {
  try {
    rmSync(path, { force: true });
  } catch {
    // nothing more to do
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
  const buf = hashBuffers.pop() ?? Buffer.allocUnsafe(HASH_READ_BYTES);
  const finish = (err, digest) => {
    if (hashBuffers.length < MAX_HASH_BUFFERS) hashBuffers.push(buf);
    done(err, digest);
  };
  const next = (at) =>
    read(fd, buf, 0, buf.length, at, (err, n) => {
      if (err) return finish(err);
      const t = STATS ? performance.now() : 0;
      if (n > 0) h.update(buf.subarray(0, n));
      const end = n < buf.length;
      const digest = end ? h.digest('hex') : null;
      if (STATS) noteOp('sha256.hash', performance.now() - t, n);
      if (end) return finish(null, digest);
      next(at + n);
    });
  next(0);
}

parentPort.on('message', ({ ops, payload }) => {
  const batchStart = STATS ? performance.now() : 0;
  scanned = null;
  const data = payload ? new Uint8Array(payload) : null;
  const results = [];
  for (const op of ops) {
    const opStart = STATS ? performance.now() : 0;
    if (op.kind === 'sync' || op.kind === 'sha256') {
      const answer = (err, value = null) => parentPort.postMessage({ results: [err ? { id: op.id, ok: false, error: fail(err) } : { id: op.id, ok: true, value }] });
      if (op.kind === 'sync') fsync(op.fd, (err) => answer(err));
      else sha256Of(op.fd, answer);
      if (STATS) noteOp(op.kind, performance.now() - opStart);
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
          writeAtomic(op.path, op.text, op.mode, op.keepTemp === true);
          break;
        case 'append':
          append(op.path, op.text);
          break;
        case 'sizes':
          value = op.paths.map(sizeOf);
          break;
        case 'stats':
          value = STATS;
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
    if (STATS) noteOp(op.kind, performance.now() - opStart, op.kind === 'write' ? op.length : 0);
  }
  // The batch's buffer goes back to the main thread to be used again: every write in it
  // is done (they are synchronous above), and the transfer detaches it here.
  if (payload) parentPort.postMessage({ results, payload }, [payload]);
  else if (results.length > 0) parentPort.postMessage({ results });
  if (STATS) {
    STATS.batches++;
    STATS.batchMs += performance.now() - batchStart;
  }
});
