// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A whole Parley with a small sip.sourceBytesPerSecond: a UDP flood of OPTIONS from one
// address is dropped past the budget, and the drops are in /metrics
// (parley_sip_source_over_budget{action="udp_dropped"}). Embedded server only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiBase, call, tempApiYaml } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient, request } from '../helpers/raw-sip-client.ts';
import { waitFor } from '../helpers/wait.ts';

async function metric(p: RunningParley, labels: string): Promise<number> {
  const m = await call(apiBase(p), 'GET', '/metrics');
  assert.equal(m.status, 200, m.text);
  const line = m.text.split('\n').find((l) => l.startsWith(`parley_sip_source_over_budget{${labels}}`));
  assert.ok(line, `parley_sip_source_over_budget{${labels}} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('adversary: a UDP flood over sip.sourceBytesPerSecond', () => {
  let p: RunningParley;
  before(async () => {
    p = await startParley(tempApiYaml('parley-adv-sipbudget-'), { embedded: true, sip: ['sourceBytesPerSecond: 20480', 'sourceBurstBytes: 20480'] });
  });
  after(() => p.stop());

  it('drops datagrams past the budget and counts them in /metrics', async () => {
    assert.equal(await metric(p, 'action="udp_dropped"'), 0);
    const c = await RawSipClient.open();
    let answered = 0;
    (c as unknown as { socket: import('node:dgram').Socket }).socket.on('message', () => answered++);
    const N = 200;
    // Ten at a time, the loop let through between them: this process is Parley's too, and 200 at
    // once could overflow its socket's receive buffer on a busy machine (dropped by the kernel,
    // neither answered nor counted: the check below could never pass).
    for (let i = 0; i < N; i++) {
      c.send(p.sipPort, request('OPTIONS', c.port).text);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
    }
    // 20 KB of burst is 20 small requests (each counts 1 KB): most of the 200 are dropped.
    const dropped = await waitFor('drops in /metrics', async () => {
      const d = await metric(p, 'action="udp_dropped"');
      return d >= N / 2 ? d : undefined;
    });
    await waitFor('the rest answered', () => answered + dropped >= N || undefined);
    assert.equal(answered + dropped, N);
    assert.equal(await metric(p, 'action="stream_closed"'), 0);
    c.close();
  });
});
