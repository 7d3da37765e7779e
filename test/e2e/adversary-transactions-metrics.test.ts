// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// The requests the embedded SIP server refuses past sip.maxTransactionsPerSource (stateless
// 503s, see test/integration/sip/adversary-transactions.test.ts) are in /metrics as
// parley_sip_requests_refused{limit="max_transactions_per_source"}, 0 before any refusal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call, tempApiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { header, RawSipClient, request } from '../helpers/raw-sip-client.ts';

const LIMIT = 10;
const LINE = 'parley_sip_requests_refused{limit="max_transactions_per_source"}';

async function refused(p: RunningParley): Promise<number> {
  const m = await call(apiBase(p), 'GET', '/metrics');
  assert.equal(m.status, 200, m.text);
  const line = m.text.split('\n').find((l) => l.startsWith(`${LINE} `));
  assert.ok(line, `${LINE} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('sip.maxTransactionsPerSource refusals in /metrics', () => {
  // Embedded: the limit is the embedded server's (a drachtio-server has no such key).
  const parley = parleyPerSuite(tempApiYaml('parley-txn-metrics-'), { embedded: true, sip: [`maxTransactionsPerSource: ${LIMIT}`] });

  it('counts each stateless 503', async () => {
    const p = parley();
    assert.equal(await refused(p), 0, 'nothing refused yet');
    const ua = await RawSipClient.open();
    const answers: string[] = [];
    for (let i = 0; i < LIMIT + 5; i++) {
      ua.send(p.sipPort, request('OPTIONS', ua.port).text);
      answers.push(await ua.nextMatching(/^SIP\/2\.0 [2-6]/));
    }
    ua.close();
    // The refusals are the 503s naming the key (an OPTIONS no app routes is answered too).
    const overLimit = answers.filter((a) => /^SIP\/2\.0 503/.test(a) && /maxTransactionsPerSource/.test(header(a, 'Warning')));
    assert.equal(overLimit.length, 5, answers.map((a) => a.split('\r\n')[0]).join(' | '));
    assert.equal(await refused(p), 5);
  });
});
