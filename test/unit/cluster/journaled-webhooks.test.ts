// WebhookSender's deliveries journaled elsewhere (the cluster's per-node journal
// in Redis): delivery ids derived from the journal id (the same when another
// node sends them again), kept out of the file spool, and `settled` called once
// when every delivery of the event is delivered or dead-lettered.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiEvent } from '../../../src/api/event-hub.ts';
import { WebhookSender } from '../../../src/api/webhook-sender.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = createLogger({ level: 'silent', pretty: false });
const event: ApiEvent = { type: 'call.ended', seq: 1, at: new Date().toISOString(), node: 'n1', data: { callId: 'c1' } };

describe('WebhookSender: journaled deliveries', () => {
  let server: Server;
  let base = '';
  const hits: Array<{ path: string; delivery: string }> = [];
  let failuresLeft = 0;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push({ path: req.url ?? '', delivery: String(req.headers['x-parley-delivery']) });
        if (req.url === '/bad' && failuresLeft-- > 0) res.writeHead(500).end();
        else if (req.url === '/dead') res.writeHead(500).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('ids from the journal id, nothing in the spool, settled once when both hooks are done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-journaled-'));
    const spool = join(dir, 'spool.json');
    failuresLeft = 2;
    const s = new WebhookSender({ hooks: [{ url: `${base}/ok`, secret: 'a' }, { url: `${base}/bad`, secret: 'b' }], attempts: 0, retryBaseMs: 20, retryMaxMs: 50, retryWindowMs: 60_000, spoolFile: spool, deadLetterFile: null }, log);
    let settled = 0;
    s.handle(event, { id: 'j-1', settled: () => settled++ });
    await waitFor('settled', () => settled > 0, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, 1);
    assert.deepEqual([...new Set(hits.map((h) => h.delivery))].sort(), ['j-1.0', 'j-1.1']);
    assert.equal(hits.filter((h) => h.path === '/bad').length, 3, 'retried until delivered');
    s.close();
    await s.settled();
    assert.ok(!existsSync(spool) || !readFileSync(spool, 'utf8').includes('j-1'), 'not in the file spool');
  });

  it('settled once dead-lettered; at once when no hook wants the event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-journaled-'));
    const s = new WebhookSender({ hooks: [{ url: `${base}/dead`, secret: 'a' }], attempts: 2, retryBaseMs: 20, retryMaxMs: 50, retryWindowMs: 60_000, spoolFile: null, deadLetterFile: join(dir, 'dead.jsonl') }, log);
    let settled = 0;
    s.handle(event, { id: 'j-2', settled: () => settled++ });
    await waitFor('settled after the dead letter', () => settled > 0, 5000);
    assert.equal((await s.deadLetter!.list()).some((e) => e.delivery === 'j-2.0'), true);
    let none = 0;
    s.handle({ ...event, type: 'talking' }, { id: 'j-3', settled: () => none++ });
    assert.equal(none, 1);
    assert.equal(s.wants('talking'), false);
    assert.equal(s.wants('call.ended'), true);
    s.close();
  });
});
