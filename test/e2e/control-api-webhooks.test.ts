// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// kill -9 does not lose a webhook (issue 12): a real call ends while the
// receiver is down; Parley journals the call.ended delivery, is killed with
// SIGKILL, and the next Parley, started on the same spool once the receiver is
// up, delivers it once with the same delivery id.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_TOKEN } from '../helpers/api-client.ts';
import { freePort } from '../helpers/free-port.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { spawnParley } from '../helpers/parley-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { startCaller } from './helpers.ts';

/** The call.ended delivery in the spool journal, with the attempt it is at. */
function journaled(file: string): { delivery: string; attempt: number } | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let found: { delivery: string; attempt: number } | undefined;
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { op: string; d?: { delivery: string; attempt: number; event: { type: string } }; id?: string; attempt?: number };
    if (r.op === 'add' && r.d?.event.type === 'call.ended') found = { delivery: r.d.delivery, attempt: r.d.attempt };
    if (r.op === 'try' && found && r.id === found.delivery) found = { ...found, attempt: r.attempt! };
  }
  return found;
}

describe('webhooks survive kill -9', () => {
  it('a call.ended journaled while the receiver was down is delivered by the next Parley, same delivery id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-hook-kill-'));
    const spool = join(dir, 'spool.jsonl');
    const receiverPort = await freePort();
    const yaml = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: hello }] }]
flows:
  hello: [answer, hangup]
api:
  enabled: true
  port: 0
  token: ${TEST_TOKEN}
  rulesStateFile: ${join(dir, 'rules.json')}
  webhookSpoolFile: ${spool}
  webhookDeadLetterFile: ${join(dir, 'dead.jsonl')}
  webhookRetryBaseMs: 100
  webhookRetryMaxMs: 300
  webhooks: [{ url: "http://127.0.0.1:${receiverPort}/hook", secret: s3cret, events: [call.ended] }]
`;
    const proc = await spawnParley(yaml);
    const caller = await startCaller({ sipPort: proc.sipPort } as RunningParley, 'caller-wait-bye.xml', 'sip:bob@127.0.0.1:5999');
    let second: RunningParley | null = null;
    const hits: { delivery: string; event: string }[] = [];
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push({ delivery: String(req.headers['x-parley-delivery']), event: String(req.headers['x-parley-event']) });
        res.writeHead(204).end();
      });
    });
    try {
      const before = await waitFor('the call.ended delivery failing and journaled', () => {
        const j = journaled(spool);
        return j && j.attempt >= 3 ? j : undefined;
      }, 20_000);
      proc.child.kill('SIGKILL');
      await once(proc.child, 'exit');
      await new Promise<void>((r) => receiver.listen(receiverPort, '127.0.0.1', r));
      second = await startParley(yaml);
      await waitFor('the delivery from the next Parley', () => hits.length >= 1 || undefined, 10_000);
      await new Promise((r) => setTimeout(r, 500)); // past the 300 ms back-off cap: a duplicate would be here
      assert.deepEqual(hits, [{ delivery: before.delivery, event: 'call.ended' }]);
    } finally {
      caller.kill();
      await caller.rtp.close();
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await second?.stop();
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });
});
