// Webhooks that nothing loses (issue 12), against a running Parley and a real
// local HTTP receiver on loopback: a receiver down, then up, gets the delivery
// once with the same delivery id (also across a Parley restart); with a tiny
// retry window the event lands in the dead letter, which GET
// /webhooks/dead-letter lists and POST /webhooks/dead-letter/replay sends again.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { apiBase, apiYaml, call } from '../../helpers/api-client.ts';
import { freePort } from '../../helpers/free-port.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';
import { waitFor } from '../../helpers/wait.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

interface Hit {
  delivery: string;
  attempt: number;
  event: string;
  callId: string;
}

/** A receiver on a fixed port that is down until up() and answers 204. */
class Receiver {
  readonly hits: Hit[] = [];
  private server: Server | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const e = JSON.parse(body) as { type: string; data: { callId: string } };
        this.hits.push({ delivery: String(req.headers['x-parley-delivery']), attempt: Number(req.headers['x-parley-attempt']), event: e.type, callId: e.data.callId });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

/** The spool journal's records for a delivery of this call. */
function spooled(file: string, callId: string): { delivery: string; attempt: number } | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let found: { delivery: string; attempt: number } | undefined;
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { op: string; d?: { delivery: string; attempt: number; event: { data: { callId: string } } }; id?: string; attempt?: number };
    if (r.op === 'add' && r.d?.event.data.callId === callId) found = { delivery: r.d.delivery, attempt: r.d.attempt };
    if (r.op === 'try' && found && r.id === found.delivery) found = { ...found, attempt: r.attempt! };
  }
  return found;
}

describe('webhooks: a receiver down for a while loses nothing', () => {
  let parley: RunningParley | null = null;
  let receiver: Receiver;
  const dir = mkdtempSync(join(tmpdir(), 'parley-webhooks-'));
  const spool = join(dir, 'spool.jsonl');
  const dead = join(dir, 'dead.jsonl');

  const start = async (extra = ''): Promise<string> => {
    const hook = `  webhooks: [{ url: "${receiver.url}", secret: s3cret, events: [call.ended] }]\n`;
    parley = await startParley(
      apiYaml(join(dir, 'rules.json'), `${hook}  webhookRetryBaseMs: 50\n  webhookRetryMaxMs: 200\n  webhookDeadLetterFile: ${dead}\n${extra}`).replace(/webhookSpoolFile: .*/, `webhookSpoolFile: ${spool}`),
    );
    return apiBase(parley);
  };
  const publish = (callId: string): void => parley!.app.api!.hub.publish('call.ended', { callId, reason: 'test', durationMs: 1 });

  afterEach(async () => {
    await parley?.stop();
    parley = null;
    await receiver?.down();
  });

  it('delivers once, with the same delivery id, when the receiver comes back', async () => {
    receiver = new Receiver(await freePort());
    await start();
    publish('call-1');
    // Refused connections, retried: the spool journals each next attempt.
    const before = await waitFor('three failed attempts', () => {
      const s = spooled(spool, 'call-1');
      return s && s.attempt >= 4 ? s : undefined;
    });
    await receiver.up();
    await waitFor('the delivery', () => receiver.hits.length >= 1 || undefined);
    await new Promise((r) => setTimeout(r, 600)); // longer than the 200 ms back-off cap (+20 %): a duplicate would be here
    assert.equal(receiver.hits.length, 1, 'once');
    assert.equal(receiver.hits[0]!.delivery, before.delivery, 'the delivery id of the failed attempts');
    assert.ok(receiver.hits[0]!.attempt >= 4, `attempt ${receiver.hits[0]!.attempt}`);
  });

  it('keeps it across a Parley restart while the receiver is down', async () => {
    receiver = new Receiver(await freePort());
    await start();
    publish('call-2');
    const before = await waitFor('a failed attempt journaled', () => {
      const s = spooled(spool, 'call-2');
      return s && s.attempt >= 2 ? s : undefined;
    });
    await parley!.stop();
    parley = null;
    await receiver.up();
    await start();
    await waitFor('the delivery after the restart', () => receiver.hits.length >= 1 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      receiver.hits.map((h) => [h.delivery, h.callId]),
      [[before.delivery, 'call-2']],
    );
  });

  it('past a tiny retry window keeps the event in the dead letter, lists it and replays it with the same delivery id', async () => {
    receiver = new Receiver(await freePort());
    // 0.0002 h = 720 ms of retries.
    const base = await start('  webhookMaxRetryHours: 0.0002\n');
    publish('call-3');
    const list = await waitFor('the dead letter', async () => {
      const r = await call(base, 'GET', '/webhooks/dead-letter');
      return r.body?.count >= 1 ? r.body : undefined;
    });
    assert.equal(list.count, 1);
    const entry = list.entries[0];
    assert.equal(entry.url, receiver.url);
    assert.equal(entry.event.type, 'call.ended');
    assert.equal(entry.event.data.callId, 'call-3');
    assert.ok(entry.attempts >= 3, `retried: ${entry.attempts} attempts`);
    assert.match(entry.lastError, /fetch failed|ECONNREFUSED/);
    assert.ok(Date.parse(entry.deadAt) - Date.parse(entry.firstAttemptAt) >= 700, 'for the whole window');
    // Bad replay bodies name the field; unknown ids are said so.
    const bad = await call(base, 'POST', '/webhooks/dead-letter/replay', { deliveries: ['not an id!'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.deliveries.0');
    const unknown = await call(base, 'POST', '/webhooks/dead-letter/replay', { deliveries: ['no-such-delivery'] });
    assert.deepEqual(unknown.body, { replayed: [], notFound: ['no-such-delivery'], notConfigured: [] });
    await receiver.up();
    const r = await call(base, 'POST', '/webhooks/dead-letter/replay', { deliveries: [entry.delivery] });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body.replayed, [entry.delivery]);
    await waitFor('the replayed delivery', () => receiver.hits.length >= 1 || undefined);
    assert.deepEqual([receiver.hits[0]!.delivery, receiver.hits[0]!.callId, receiver.hits[0]!.attempt], [entry.delivery, 'call-3', entry.attempts + 1]);
    assert.equal((await call(base, 'GET', '/webhooks/dead-letter')).body.count, 0);
    // Nothing left: replaying all replays nothing and sends nothing more.
    const all = await call(base, 'POST', '/webhooks/dead-letter/replay'); // no body: all
    assert.equal(all.status, 202);
    assert.deepEqual(all.body.replayed, []);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(receiver.hits.length, 1);
  });

  it('bad webhook retry settings name the key', () => {
    assert.throws(() => parseConfig('api: { webhookMaxRetryHours: 0 }'), /api\.webhookMaxRetryHours/);
    assert.throws(() => parseConfig('api: { webhookMaxRetryHours: "six" }'), /api\.webhookMaxRetryHours/);
    assert.throws(() => parseConfig('api: { webhookRetryMaxMs: 1 }'), /api\.webhookRetryMaxMs/);
    assert.throws(() => parseConfig('api: { webhookDeadLetterFile: "" }'), /api\.webhookDeadLetterFile/);
    assert.throws(() => parseConfig('api: { webhookAttempts: -1 }'), /api\.webhookAttempts/);
    assert.equal(parseConfig('api: { webhookMaxRetryHours: 0.5 }').api.webhookMaxRetryHours, 0.5);
  });
});
