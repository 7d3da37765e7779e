// A flood of requests with new branches from one address (sip.maxTransactionsPerSource).
// Over UDP each non-INVITE server transaction lives 64*T1 (32 s, Timer J) after its answer,
// about 3 KB each, so the table and the memory grew by the flood's rate times 32 s (20,000
// OPTIONS from one socket left 11,631 transactions and +34 MB of heap; bench/adversary/txn-flood.ts).
// Past the limit a new request gets a stateless 503 with Retry-After and a Warning naming
// the key; retransmissions of requests that have a transaction still get their answer,
// and another source address is served as before.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, header, request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

const LIMIT = 40;

describe('sip.maxTransactionsPerSource', () => {
  let h: Harness;
  before(async () => {
    // Default timers: each answered OPTIONS keeps its transaction for Timer J (32 s).
    h = await startHarness({ maxTransactionsPerSource: LIMIT });
    // srf.options exists at run time; the typings leave it out.
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
    await waitFor('the OPTIONS route', () => (h.server.routedVerbs.includes('options') ? true : undefined), 5000);
  });
  after(() => h.close());

  it('refuses a source past the limit with a stateless 503, and serves another source', async () => {
    const port = h.server.sipPort('udp');
    const flood = await RawSipClient.open();
    const sent: string[] = [];
    const answers: string[] = [];
    for (let i = 0; i < LIMIT + 20; i++) {
      const r = request('OPTIONS', flood.port);
      sent.push(r.text);
      flood.send(port, r.text);
      answers.push(await flood.nextMatching(/^SIP\/2\.0 [2-6]/));
    }
    const statuses = answers.map((a) => a.split(' ')[1]);
    assert.deepEqual(statuses.slice(0, LIMIT), Array(LIMIT).fill('200'), 'the first LIMIT requests are served');
    assert.deepEqual(statuses.slice(LIMIT), Array(20).fill('503'), 'past the limit: 503');
    const refusal = answers[LIMIT]!;
    assert.equal(header(refusal, 'Retry-After'), '5');
    assert.match(header(refusal, 'Warning'), /sip\.maxTransactionsPerSource 40/);
    assert.equal(h.server.stats.serverTransactions, LIMIT, 'no transaction kept for a refused request');
    assert.equal(h.server.stats.refusedOverSourceLimit, 20);

    // A retransmission of a request that has its transaction gets its 200 again, not a 503.
    flood.send(port, sent[0]!);
    assert.match(await flood.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 200/);

    // A sender that writes a Via `received` of another address is still counted as its own.
    const forged = request('OPTIONS', flood.port);
    flood.send(port, forged.text.replace(/(Via: [^\r\n]*)/, '$1;received=10.9.8.7'));
    assert.match(await flood.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 503/);

    // Another source address (127.0.0.2) is served.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.2', () => r()));
    const otherPort = other.address().port;
    const got = new Promise<string>((resolve) => other.once('message', (m) => resolve(m.toString())));
    const r = request('OPTIONS', otherPort, { Via: `SIP/2.0/UDP 127.0.0.2:${otherPort};branch=z9hG4bK-other-${process.pid}` });
    other.send(Buffer.from(r.text), port, '127.0.0.1');
    assert.match(await got, /^SIP\/2\.0 200/);
    other.close();
    flood.close();
  });
});

// A `received` a sender writes in its own Via is not an address Parley saw: responses follow
// `received` (§18.2.2), so one naming a third party made Parley send its answers there
// (a reflector). The server's own stamp replaces it.
describe('a Via received written by the sender', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
    await waitFor('the OPTIONS route', () => (h.server.routedVerbs.includes('options') ? true : undefined), 5000);
  });
  after(() => h.close());

  it('does not steer the answer to another address', async () => {
    const c = await RawSipClient.open();
    const r = request('OPTIONS', c.port, { Via: `SIP/2.0/UDP 127.0.0.1:${c.port};received=127.0.0.3;branch=z9hG4bK-forged-${process.pid}` });
    c.send(h.server.sipPort('udp'), r.text);
    const res = await c.nextMatching(/^SIP\/2\.0 200/);
    assert.doesNotMatch(header(res, 'Via'), /127\.0\.0\.3/);
    c.close();
  });
});
