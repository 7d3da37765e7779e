// Recording downloads never leave recording.dir (issue 12): a listed file
// replaced by a symlink (to a file outside, to /etc/passwd, even to another file
// inside), a sidecar that is a symlink, names with `..` or a separator from a
// sidecar, a directory symlink on the way, a FIFO: refused with a JSON 403/404/400
// and never the linked content; real files are still served whole, an empty one
// too, with no descriptor left open on it (GET or HEAD).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../../helpers/api-client.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

const SECRET = 'TOP-SECRET-shadow-line:$6$salt$hash';

function sidecar(id: string, files: { mix: string; stereo?: string }): string {
  return JSON.stringify({
    version: 1,
    room: `room-${id}`,
    state: 'finalized',
    startedAt: '2026-11-22T08:00:00.000Z',
    endedAt: '2026-11-22T08:00:05.000Z',
    durationMs: 5000,
    mix: { file: files.mix, channels: 1, sampleRate: 16000, durationMs: 5000, sha256: null },
    stereo: files.stereo ? { file: files.stereo, channels: 2, sampleRate: 16000, durationMs: 5000, sha256: null, left: 'caller' } : null,
    legs: [],
    postProcessed: [],
  });
}

/** This process's open descriptors on paths starting with `prefix`. */
function openDescriptorsOn(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(prefix)) out.push(target);
    } catch {
      // Closed between the listing and the readlink (readdirSync's own descriptor).
    }
  }
  return out;
}

describe('recording downloads stay inside recording.dir', () => {
  let parley: RunningParley;
  let base: string;
  let dir: string;
  const outside = mkdtempSync(join(tmpdir(), 'parley-outside-'));
  const secretFile = join(outside, 'shadow');
  const big = Buffer.alloc(1_500_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;

  before(async () => {
    parley = await startParley(apiYaml(join(mkdtempSync(join(tmpdir(), 'parley-api-')), 'rules.json')));
    base = apiBase(parley);
    dir = parley.recordingDir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(secretFile, SECRET);
    writeFileSync(join(outside, 'other.json'), sidecar('other', { mix: 'other.mix.wav' }));
    // A real recording: its files are served.
    writeFileSync(join(dir, 'good.json'), sidecar('good', { mix: 'good.mix.wav', stereo: 'good.stereo.wav' }));
    writeFileSync(join(dir, 'good.mix.wav'), big);
    writeFileSync(join(dir, 'good.stereo.wav'), '');
    // Its files replaced by links: out of the folder, to /etc/passwd, to another file inside.
    writeFileSync(join(dir, 'linked.json'), sidecar('linked', { mix: 'linked.mix.wav', stereo: 'linked.stereo.wav' }));
    symlinkSync(secretFile, join(dir, 'linked.mix.wav'));
    symlinkSync('/etc/passwd', join(dir, 'linked.stereo.wav'));
    writeFileSync(join(dir, 'inner.json'), sidecar('inner', { mix: 'inner.mix.wav' }));
    symlinkSync(join(dir, 'good.mix.wav'), join(dir, 'inner.mix.wav'));
    // A sidecar that is itself a link to JSON outside.
    symlinkSync(join(outside, 'other.json'), join(dir, 'other.json'));
    // A sidecar naming files out of the folder, through `..` or a linked directory.
    symlinkSync(outside, join(dir, 'outdir'));
    writeFileSync(join(dir, 'sneaky.json'), sidecar('sneaky', { mix: '../shadow', stereo: 'outdir/shadow' }));
    // A FIFO where a file was: opening it must not hang the API.
    writeFileSync(join(dir, 'fifo.json'), sidecar('fifo', { mix: 'fifo.mix.wav' }));
    execFileSync('mkfifo', [join(dir, 'fifo.mix.wav')]);
  });

  after(async () => {
    await parley?.stop();
    rmSync(outside, { recursive: true, force: true });
  });

  it('serves a real file whole (1.5 MB, from its descriptor) and an empty one', async () => {
    const r = await fetch(`${base}/recordings/good/files/good.mix.wav`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(big.length));
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(big), 'the same bytes');
    const empty = await call(base, 'GET', '/recordings/good/files/good.stereo.wav');
    assert.equal(empty.status, 200);
    assert.equal(empty.text, '');
    const head = await fetch(`${base}/recordings/good/files/good.stereo.wav`, { method: 'HEAD', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '0');
    // The API runs in this process: a descriptor still open on a file served is in /proc/self/fd.
    // Both answers are complete, so every descriptor of theirs must be closed by now.
    assert.deepEqual(openDescriptorsOn(join(dir, 'good.')), [], 'no descriptor left open on a file served');
  });

  it('refuses a listed file that is a symlink, wherever it points, with a JSON 403', async () => {
    for (const file of ['linked.mix.wav', 'linked.stereo.wav']) {
      const r = await call(base, 'GET', `/recordings/linked/files/${file}`);
      assert.equal(r.status, 403, `${file}: ${r.status} ${r.text.slice(0, 80)}`);
      assert.equal(r.body.error, 'forbidden');
      assert.doesNotMatch(r.text, /TOP-SECRET|root:/);
    }
    const inner = await call(base, 'GET', '/recordings/inner/files/inner.mix.wav');
    assert.equal(inner.status, 403, 'a link to a file inside is not followed either');
  });

  it('refuses a sidecar that is a symlink, and leaves it out of the list', async () => {
    const r = await call(base, 'GET', '/recordings/other');
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'forbidden');
    const list = await call(base, 'GET', '/recordings');
    assert.equal(list.status, 200);
    const ids = list.body.map((x: { id: string }) => x.id).sort();
    assert.deepEqual(ids, ['fifo', 'good', 'inner', 'linked', 'sneaky']);
  });

  it('never lists or serves names with `..` or a separator from a sidecar', async () => {
    const list = await call(base, 'GET', '/recordings');
    const sneaky = list.body.find((x: { id: string }) => x.id === 'sneaky');
    assert.deepEqual(sneaky.files, ['sneaky.json']);
    for (const file of ['..%2Fshadow', 'outdir%2Fshadow', '..']) {
      const r = await call(base, 'GET', `/recordings/sneaky/files/${file}`);
      assert.ok(r.status === 400 || r.status === 404, `${file}: ${r.status}`);
      assert.doesNotMatch(r.text, /TOP-SECRET/);
    }
  });

  it('refuses a FIFO without waiting for a writer, and leaves no reader open on it', async () => {
    // No writer ever opens the FIFO: a server that opened it blocking would wait forever (and
    // hold a libuv thread), so the answer coming at all is the check. The bound only turns such
    // a hang into a failure that names it; it is far beyond any machine's speed.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer in 30 s: the server waits for a writer on the FIFO')), 30_000);
    });
    const r = await Promise.race([call(base, 'GET', '/recordings/fifo/files/fifo.mix.wav'), hung]).finally(() => clearTimeout(timer));
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'forbidden');
    assert.match(r.body.message, /'fifo\.mix\.wav' may not be served/);
    // Nothing reads it now: a non-blocking open for writing finds no reader (ENXIO). A descriptor
    // left open on it by the refusal, or an open still waiting, would be a reader.
    assert.throws(() => openSync(join(dir, 'fifo.mix.wav'), constants.O_WRONLY | constants.O_NONBLOCK), { code: 'ENXIO' });
    assert.equal((await call(base, 'GET', '/health')).status, 200);
  });
});
