// `parley recordings` lists every recording, following the API's pages (X-Next-Cursor),
// not only the first 100; `--limit N` shows the newest N and says how many more; an
// unknown option on any command is one line and the usage, exit 2, never a stack trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const TOKEN = 'cli-list-token-0123456';
const rows = Array.from({ length: 250 }, (_, i) => ({
  id: `rec-${String(250 - i).padStart(4, '0')}`,
  state: 'finalized',
  startedAt: new Date(Date.UTC(2026, 0, 1) - i * 1000).toISOString(),
  durationMs: 1000,
  legs: [{ uri: 'sip:a@example.com', originalTo: 'sip:b@example.com' }],
  files: [],
}));
const dir = mkdtempSync(join(tmpdir(), 'parley-cli-list-'));
let server: http.Server;
let config = '';

/** GET /recordings as the API pages it: limit (default 100, at most 1000), cursor = the index of the next row. */
before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== `Bearer ${TOKEN}` || u.pathname !== '/recordings') {
      res.writeHead(404).end('{}');
      return;
    }
    const limit = Math.min(1000, Number(u.searchParams.get('limit') ?? 100));
    const from = Number(u.searchParams.get('cursor') ?? 0);
    const page = rows.slice(from, from + limit);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (from + limit < rows.length) headers['x-next-cursor'] = String(from + limit);
    res.writeHead(200, headers).end(JSON.stringify(page));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  config = join(dir, 'parley.yaml');
  writeFileSync(config, `api: { enabled: true, host: 127.0.0.1, port: ${(server.address() as AddressInfo).port}, token: ${TOKEN} }\nlog: { level: silent }\n`);
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function parley(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('parley recordings (list)', () => {
  it('lists every recording across the pages, the table and --json alike', async () => {
    const t = await parley('recordings', '--config', config);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.equal(lines.length, 1 + 250, 'a header and every recording');
    assert.match(lines[1]!, /^rec-0250 /);
    assert.match(lines.at(-1)!, /^rec-0001 /);
    const j = await parley('recordings', '--json', '--config', config);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual((JSON.parse(j.stdout) as { id: string }[]).map((r) => r.id), rows.map((r) => r.id));
  });

  it('--limit N: the newest N and how many more', async () => {
    const t = await parley('recordings', '--limit', '5', '--config', config);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.equal(lines.length, 1 + 5 + 1);
    assert.match(lines.at(-1)!, /^… 245 more \(--limit 5; without --limit all 250 are listed\)$/);
    const j = await parley('recordings', '--limit', '1000', '--json', '--config', config);
    assert.equal((JSON.parse(j.stdout) as unknown[]).length, 250);
    const bad = await parley('recordings', '--limit', 'many', '--config', config);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit: a number of recordings/);
  });

  it('an unknown option, on any command: one line and the usage, exit 2, no stack trace', async () => {
    for (const args of [
      ['recordings', '--bogus'],
      ['recordings', 'verify', '--all', '--bogus'],
      ['recordings', 'rotate-key', '--bogus'],
      ['calls', '--bogus'],
      ['route', '--bogus'],
      ['prompts', 'build', '--bogus'],
      ['start', '--bogus'],
    ]) {
      const r = await parley(...args, '--config', config);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const [first, second] = r.stderr.split('\n');
      assert.match(first!, new RegExp(`^parley ${args[0]}: Unknown option '--bogus'`), args.join(' '));
      // `route` prints its own usage, the others the general one.
      assert.match(second!, args[0] === 'route' ? /^usage: parley route --dry-run FILE/ : /^usage: parley \[--config FILE\] <command>/);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
  });

  it('--config before the command is taken too; the AWS SDK does not warn about Node 22 on a command that loads it', async () => {
    const t = await parley('--config', config, 'recordings', '--limit', '1');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^ID .*\nrec-0250 .*\n… 249 more/);
    const rec = join(dir, 'rec');
    mkdirSync(rec);
    const pub = join(dir, 'pub.pem');
    writeFileSync(pub, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const cfg = join(dir, 'store.yaml');
    writeFileSync(cfg, `recording: { dir: ${rec}, store: { type: s3, endpoint: 'http://127.0.0.1:9', bucket: recs, accessKeyId: x, secretAccessKey: y } }\nlog: { level: silent }\n`);
    const v = await parley('-c', cfg, 'recordings', 'verify', '--all', '--public-key', pub);
    assert.match(v.stdout, /0 verified, 0 failed/, v.stderr);
    assert.doesNotMatch(v.stderr, /NodeVersionSupportWarning|AWS SDK/);
  });
});
