// The flows shipped in parley.yaml, run as a user would reach them: the rule
// chain and flows are read from the shipped file. The PIN conference takes its
// PIN as RFC 4733 digits; a transfer step sends a blind REFER.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { received, sippOk, startCaller } from './helpers.ts';

/** parley.yaml's routing and flows, plus one extra flow and rule for the transfer test. */
function shippedYaml(): string {
  const shipped = parse(readFileSync('parley.yaml', 'utf8')) as { routing: { rules: unknown[] }; flows: Record<string, unknown> };
  shipped.routing.rules.unshift({ name: 'transfer-test', match: { requestUri: 'sip:transfer@*' }, actions: [{ app: 'transfer-test' }] });
  shipped.flows['transfer-test'] = [{ answer: null }, { transfer: { to: 'sip:operator@example.com' } }];
  return stringify({ routing: shipped.routing, flows: shipped.flows });
}

describe('shipped flows (parley.yaml) with SIPp callers', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(shippedYaml());
  });

  after(async () => {
    await parley?.stop();
  });

  it('the PIN conference lets the caller in after 4321# and plays the join tone', async () => {
    const caller = await startCaller(parley, 'caller.xml', 'sip:conference@127.0.0.1:5999', { pauseMs: 5000 });
    await caller.rtp.waitForPackets(20);
    for (const d of '4321#') caller.rtp.queueDtmf(d, 100);
    const until = Date.now() + 10_000;
    let size = 0;
    while (Date.now() < until && size === 0) {
      size = (await parley.app.conferences!.get('demo'))?.roster.size ?? 0;
      if (size === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(size, 1, 'the caller joined the demo room');
    sippOk(await caller.done, 'caller');
    await caller.rtp.close();
  });

  it('a transfer step sends a blind REFER with Refer-To, then hangs up', async () => {
    const caller = await startCaller(parley, 'caller-refer.xml', 'sip:transfer@127.0.0.1:5999');
    const run = await caller.done;
    sippOk(run, 'caller');
    const refer = received(run).find((m) => /^REFER /m.test(m)) ?? '';
    assert.match(refer, /^Refer-To: <sip:operator@example\.com>/m);
    await caller.rtp.close();
  });
});
