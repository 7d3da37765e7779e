// WebhookSender: signature, back-off that doubles, giving up after the attempts,
// close() stopping retries. Against a local HTTP receiver that always fails.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sign, WebhookSender } from '../../../src/api/webhook-sender.ts';
import type { ApiEvent } from '../../../src/api/event-hub.ts';
import { createLogger } from '../../../src/util/logger.ts';

const log = createLogger({ level: 'silent', pretty: false });
const event = (type: ApiEvent['type']): ApiEvent => ({ type, seq: 1, at: new Date().toISOString(), data: { callId: 'c1' } });

describe('WebhookSender', () => {
  let server: Server;
  let url = '';
  const hits: { at: number; path: string; attempt: number; delivery: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      hits.push({ at: Date.now(), path: req.url ?? '', attempt: Number(req.headers['x-parley-attempt']), delivery: String(req.headers['x-parley-delivery']) });
      req.resume();
      req.on('end', () => res.writeHead(500).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it('signs the body with HMAC-SHA256', () => {
    assert.equal(sign('k', '{"a":1}'), 'sha256=' + createHmac('sha256', 'k').update('{"a":1}').digest('hex'));
  });

  it('retries with doubling back-off, keeps the delivery id, and gives up after the attempts', async () => {
    hits.length = 0;
    const s = new WebhookSender([{ url: `${url}/a`, secret: 's' }], 4, 50, log);
    s.handle(event('call.ended'));
    s.handle(event('talking')); // not a webhook event by default
    const until = Date.now() + 5000;
    while (hits.length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 600)); // a fifth attempt would come 400 ms after the fourth
    s.close();
    assert.deepEqual(hits.map((h) => h.attempt), [1, 2, 3, 4]);
    assert.equal(new Set(hits.map((h) => h.delivery)).size, 1);
    const gaps = hits.slice(1).map((h, i) => h.at - hits[i]!.at);
    assert.ok(gaps[0]! >= 45 && gaps[1]! >= 95 && gaps[2]! >= 195, `gaps ${gaps.join(', ')} ms`);
    assert.ok(gaps[2]! > gaps[0]! * 2.5, `back-off grows: ${gaps.join(', ')} ms`);
  });

  it('sends only the events a hook asks for, and close() stops the retries', async () => {
    hits.length = 0;
    const s = new WebhookSender([{ url: `${url}/b`, secret: 's', events: ['recording.saved'] }], 10, 200, log);
    s.handle(event('call.ended'));
    s.handle(event('recording.saved'));
    const until = Date.now() + 5000;
    while (hits.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    s.close();
    s.handle(event('recording.saved'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.path, '/b');
  });

  it('a delivery pending at close() is spooled and sent again, same delivery id, by the next sender', async () => {
    hits.length = 0;
    const spool = join(mkdtempSync(join(tmpdir(), 'parley-spool-')), 'sub', 'pending.json');
    const first = new WebhookSender([{ url: `${url}/c`, secret: 's' }], 5, 60_000, log, spool);
    first.handle(event('recording.saved'));
    const until = Date.now() + 5000;
    while (hits.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    // The receiver answers 500 (at once, on loopback): the second attempt waits a minute; Parley stops now.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(first.pendingCount, 1);
    first.close();
    const spooled = JSON.parse(readFileSync(spool, 'utf8'));
    assert.equal(spooled.length, 1);
    assert.equal(spooled[0].attempt, 2, 'the next attempt is the second');
    // A later run, configured with the same hook, sends it on start and removes the spool.
    const next = new WebhookSender([{ url: `${url}/c`, secret: 's' }], 5, 60_000, log, spool);
    assert.equal(next.resumeSpool(), 1);
    assert.equal(existsSync(spool), false, 'the spool is consumed');
    while (hits.length < 2 && Date.now() < until + 5000) await new Promise((r) => setTimeout(r, 10));
    next.close();
    assert.deepEqual(hits.map((h) => [h.path, h.attempt]), [['/c', 1], ['/c', 2]]);
    assert.equal(hits[0]!.delivery, hits[1]!.delivery, 'the same delivery id');
    // A spooled delivery for a URL no longer configured is dropped, not sent elsewhere.
    const stray = new WebhookSender([{ url: `${url}/other`, secret: 's' }], 5, 60_000, log, spool);
    assert.equal(stray.resumeSpool(), 0, 'nothing to resume (next spooled its pending one again)');
    stray.close();
  });
});
