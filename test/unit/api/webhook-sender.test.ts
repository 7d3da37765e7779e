// WebhookSender against a real local HTTP receiver: signature, back-off that
// doubles (with jitter, capped), the retry window and the attempt limit ending in
// the dead letter, replay with the same delivery id, the spool journaled as
// deliveries change (a crash loses nothing) and resumed at the next start, at
// most 8 requests in flight per URL.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sign, WebhookSender, type WebhookSenderOptions } from '../../../src/api/webhook-sender.ts';
import type { ApiEvent } from '../../../src/api/event-hub.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = createLogger({ level: 'silent', pretty: false });
const event = (type: ApiEvent['type'], seq = 1): ApiEvent => ({ type, seq, at: new Date().toISOString(), data: { callId: `c${seq}` } });
const tmp = (): string => mkdtempSync(join(tmpdir(), 'parley-webhooks-'));

interface Hit {
  at: number;
  path: string;
  attempt: number;
  delivery: string;
  seq: number;
}

describe('WebhookSender', () => {
  let server: Server;
  let url = '';
  const hits: Hit[] = [];
  /** What the receiver does; by default it fails every request with 500. */
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(500).end();

  const sender = (o: Partial<WebhookSenderOptions> & { hooks: WebhookSenderOptions['hooks'] }): WebhookSender =>
    new WebhookSender({ attempts: 0, retryBaseMs: 50, retryMaxMs: 300_000, retryWindowMs: 3_600_000, spoolFile: null, deadLetterFile: null, ...o }, log);

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits.push({ at: Date.now(), path: req.url ?? '', attempt: Number(req.headers['x-parley-attempt']), delivery: String(req.headers['x-parley-delivery']), seq: JSON.parse(body).seq });
        answer(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('signs the body with HMAC-SHA256', () => {
    assert.equal(sign('k', '{"a":1}'), 'sha256=' + createHmac('sha256', 'k').update('{"a":1}').digest('hex'));
  });

  it('retries with doubling back-off, keeps the delivery id, and after the attempts keeps it in the dead letter', async () => {
    hits.length = 0;
    const dead = join(tmp(), 'dead.jsonl');
    const s = sender({ hooks: [{ url: `${url}/a`, secret: 's' }], attempts: 4, deadLetterFile: dead });
    s.handle(event('call.ended'));
    s.handle(event('talking')); // not a webhook event by default
    const entries = await waitFor('the dead letter entry', async () => {
      const e = await s.deadLetter!.list();
      return e.length > 0 ? e : undefined;
    });
    await new Promise((r) => setTimeout(r, 500)); // a fifth attempt would come 400 ms after the fourth
    s.close();
    assert.deepEqual(hits.map((h) => h.attempt), [1, 2, 3, 4]);
    assert.equal(new Set(hits.map((h) => h.delivery)).size, 1);
    const gaps = hits.slice(1).map((h, i) => h.at - hits[i]!.at);
    // 50, 100, 200 ms, each ±20 %.
    assert.ok(gaps[0]! >= 38 && gaps[1]! >= 78 && gaps[2]! >= 158, `gaps ${gaps.join(', ')} ms`);
    assert.equal(entries.length, 1);
    assert.deepEqual([entries[0]!.delivery, entries[0]!.attempts, entries[0]!.lastError, entries[0]!.event.type], [hits[0]!.delivery, 4, 'status 500', 'call.ended']);
    assert.equal(statSync(dead).mode & 0o777, 0o600, 'event data is not world-readable');
    assert.equal(s.pendingCount, 0);
  });

  it('caps the back-off and, past the retry window, moves the delivery to the dead letter', async () => {
    hits.length = 0;
    const dir = tmp();
    const s = sender({ hooks: [{ url: `${url}/w`, secret: 's' }], retryBaseMs: 20, retryMaxMs: 60, retryWindowMs: 600, deadLetterFile: join(dir, 'dead.jsonl'), spoolFile: join(dir, 'spool.jsonl') });
    s.handle(event('recording.saved'));
    await waitFor('the dead letter entry', async () => ((await s.deadLetter!.list()).length > 0 ? true : undefined));
    const gaps = hits.slice(1).map((h, i) => h.at - hits[i]!.at);
    // Without the cap: 20, 40, 80, 160 ms, then the rest of the window (6 attempts, a gap near 300 ms).
    assert.ok(hits.length >= 7, `kept retrying for the window: ${hits.length} attempts`);
    assert.ok(Math.max(...gaps) <= 60 * 1.2 + 80, `capped at 60 ms ±20 % (with room for a loaded machine): ${gaps.join(', ')}`);
    // The last attempt is made when the window closes (600 ms after the first was sent); the hits are
    // when the server got them, so a first request that reached it late (a loaded machine, or the other
    // unit file running beside this one) shortens the span: one capped gap (72 ms) of room.
    const span = hits.at(-1)!.at - hits[0]!.at;
    assert.ok(span >= 600 - 72, `the last attempt is at the end of the window (${span} ms after the first)`);
    await s.settled();
    s.close();
    // Out of the spool once in the dead letter: a restart does not send it again.
    const next = sender({ hooks: [{ url: `${url}/w`, secret: 's' }], spoolFile: join(dir, 'spool.jsonl') });
    assert.equal(await next.resumeSpool(), 0);
    next.close();
  });

  it('sends only the events a hook asks for, and close() stops the retries', async () => {
    hits.length = 0;
    const s = sender({ hooks: [{ url: `${url}/b`, secret: 's', events: ['recording.saved'] }], retryBaseMs: 200 });
    s.handle(event('call.ended'));
    s.handle(event('recording.saved'));
    await waitFor('the first attempt', () => hits.length >= 1 || undefined);
    s.close();
    s.handle(event('recording.saved'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.path, '/b');
  });

  it('journals a delivery as it fails: a sender that never closed (a crash) loses nothing; the next one sends it, same id', async () => {
    hits.length = 0;
    const spool = join(tmp(), 'sub', 'pending.json');
    const hooks = [{ url: `${url}/c`, secret: 's' }];
    const first = sender({ hooks, retryBaseMs: 60_000, spoolFile: spool });
    first.handle(event('recording.saved'));
    await waitFor('the first attempt', () => hits.length >= 1 || undefined);
    // The receiver answered 500: the second attempt waits a minute. No close(): the journal is all there is.
    await waitFor('the retry journaled', () => readSpool(spool).some((r) => r.op === 'try') || undefined);
    const next = sender({ hooks, retryBaseMs: 60_000, spoolFile: spool });
    answer = (_req, res) => res.writeHead(204).end();
    try {
      assert.equal(await next.resumeSpool(), 1);
      await waitFor('the resumed delivery', () => hits.length >= 2 || undefined);
      await next.settled();
    } finally {
      answer = (_req, res) => res.writeHead(500).end();
      first.close();
      next.close();
    }
    assert.deepEqual(hits.map((h) => [h.path, h.attempt]), [['/c', 1], ['/c', 2]]);
    assert.equal(hits[0]!.delivery, hits[1]!.delivery, 'the same delivery id');
    await waitFor('the delivery marked done in the journal', () => readSpool(spool).some((r) => r.op === 'done') || undefined);
    const again = sender({ hooks, spoolFile: spool });
    assert.equal(await again.resumeSpool(), 0, 'delivered: not sent a third time');
    again.close();
  });

  it('a delivery pending at close() stays in the spool; at the next start, for a URL no longer configured, it goes to the dead letter', async () => {
    hits.length = 0;
    const dir = tmp();
    const spool = join(dir, 'pending.json');
    const first = sender({ hooks: [{ url: `${url}/d`, secret: 's' }], retryBaseMs: 60_000, spoolFile: spool });
    first.handle(event('call.ended'));
    await waitFor('the first attempt', () => hits.length >= 1 || undefined);
    first.close();
    await first.settled();
    const stray = sender({ hooks: [{ url: `${url}/other`, secret: 's' }], spoolFile: spool, deadLetterFile: join(dir, 'dead.jsonl') });
    assert.equal(await stray.resumeSpool(), 0, 'nothing sent elsewhere');
    await stray.settled();
    stray.close();
    const dead = await stray.deadLetter!.list();
    assert.deepEqual([dead.length, dead[0]?.delivery, dead[0]?.url], [1, hits[0]!.delivery, `${url}/d`]);
    assert.equal(hits.length, 1);
  });

  it('reads the older spool (one JSON array written at stop)', async () => {
    hits.length = 0;
    const spool = join(tmp(), 'old.json');
    writeFileSync(spool, JSON.stringify([{ url: `${url}/e`, event: event('call.ended', 7), delivery: 'old-1', attempt: 3 }]));
    answer = (_req, res) => res.writeHead(200).end();
    const s = sender({ hooks: [{ url: `${url}/e`, secret: 's' }], spoolFile: spool });
    try {
      assert.equal(await s.resumeSpool(), 1);
      await waitFor('the old delivery', () => hits.length >= 1 || undefined);
    } finally {
      answer = (_req, res) => res.writeHead(500).end();
      s.close();
    }
    assert.deepEqual([hits[0]!.delivery, hits[0]!.attempt, hits[0]!.seq], ['old-1', 3, 7]);
  });

  it('replays dead letters by id or all, same delivery id, and leaves the others', async () => {
    hits.length = 0;
    const s = sender({ hooks: [{ url: `${url}/f`, secret: 's' }], attempts: 1, deadLetterFile: join(tmp(), 'dead.jsonl') });
    for (let i = 1; i <= 3; i++) s.handle(event('call.ended', i));
    const dead = await waitFor('three dead letters', async () => {
      const e = await s.deadLetter!.list();
      return e.length === 3 ? e : undefined;
    });
    answer = (_req, res) => res.writeHead(204).end();
    try {
      const one = await s.replay([dead[1]!.delivery, 'no-such-id']);
      assert.deepEqual(one, { replayed: [dead[1]!.delivery], notFound: ['no-such-id'], notConfigured: [] });
      await waitFor('the replayed one', () => hits.length >= 4 || undefined);
      assert.equal((await s.deadLetter!.list()).length, 2);
      const rest = await s.replay(null);
      assert.equal(rest.replayed.length, 2);
      await waitFor('all delivered', () => (hits.length >= 6 && s.pendingCount === 0) || undefined);
    } finally {
      answer = (_req, res) => res.writeHead(500).end();
      s.close();
    }
    const delivered = hits.slice(3);
    assert.deepEqual(delivered.map((h) => h.attempt), [2, 2, 2], 'the attempt count goes on');
    assert.deepEqual(delivered.map((h) => h.delivery).sort(), dead.map((d) => d.delivery).sort(), 'the same delivery ids, each once');
    assert.deepEqual(await s.deadLetter!.list(), []);
  });

  it('has at most 8 requests in flight per URL; the rest wait and all arrive once', async () => {
    hits.length = 0;
    const held: ServerResponse[] = [];
    let open = 0;
    let most = 0;
    answer = (_req, res) => {
      open++;
      most = Math.max(most, open);
      held.push(res);
    };
    const s = sender({ hooks: [{ url: `${url}/g`, secret: 's' }] });
    try {
      for (let i = 1; i <= 20; i++) s.handle(event('call.ended', i));
      await waitFor('8 requests held', () => held.length >= 8 || undefined);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(held.length, 8, 'no ninth request while 8 are in flight');
      answer = (_req, res) => res.writeHead(204).end();
      for (const res of held.splice(0)) {
        open--;
        res.writeHead(204).end();
      }
      await waitFor('all delivered', () => (s.pendingCount === 0 ? true : undefined));
    } finally {
      answer = (_req, res) => res.writeHead(500).end();
      s.close();
    }
    assert.equal(most, 8);
    assert.deepEqual(hits.map((h) => h.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('compacts the journal: thousands of done deliveries leave a small file', async () => {
    hits.length = 0;
    const spool = join(tmp(), 'spool.jsonl');
    answer = (_req, res) => res.writeHead(204).end();
    const s = sender({ hooks: [{ url: `${url}/h`, secret: 's' }], spoolFile: spool });
    try {
      for (let i = 1; i <= 700; i++) s.handle(event('call.ended', i));
      await waitFor('all delivered', () => (s.pendingCount === 0 ? true : undefined), 30_000);
      await s.settled();
    } finally {
      answer = (_req, res) => res.writeHead(500).end();
      s.close();
    }
    assert.equal(hits.length, 700);
    const lines = readSpool(spool).length;
    assert.ok(lines < 1000, `1,400 records written, ${lines} lines left`);
  });
});

function readSpool(file: string): Array<{ op: string }> {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string });
  } catch {
    return [];
  }
}
