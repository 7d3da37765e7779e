// Where a bridge step sends the B leg: the original To by default, the Request-URI when the
// step says `to: request-uri` or the call's rule said `bridgeTo: request-uri`, a URI as given.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallSession } from '../../../src/call/call-session.ts';
import type { FlowsConfig } from '../../../src/call/flow-types.ts';
import { FakeCall } from './fake-call.ts';

const flows: FlowsConfig = {
  plain: [{ bridge: {} }],
  ruri: [{ bridge: { to: 'request-uri' } }],
  original: [{ bridge: { to: 'to' } }],
  given: [{ bridge: { to: 'sip:carol@example.org' } }],
};

async function bridgedTo(flow: string, rule?: 'to' | 'request-uri'): Promise<string | undefined> {
  const call = new FakeCall();
  call.requestUri = 'sip:bob@10.0.0.7:5070';
  if (rule) call.bridgeTarget = rule;
  const session = new CallSession(call, flows);
  const done = session.waitFor('done', 5000);
  await session.run(flow);
  await done;
  return call.actions.find((a) => a.startsWith('bridge '));
}

describe('bridge target', () => {
  it('defaults to the original To', async () => assert.equal(await bridgedTo('plain'), 'bridge sip:bob@example.com'));
  it('to: request-uri takes the Request-URI', async () => assert.equal(await bridgedTo('ruri'), 'bridge sip:bob@10.0.0.7:5070'));
  it("a rule's bridgeTo: request-uri applies to steps without to", async () =>
    assert.equal(await bridgedTo('plain', 'request-uri'), 'bridge sip:bob@10.0.0.7:5070'));
  it("a step's to: to wins over the rule", async () => assert.equal(await bridgedTo('original', 'request-uri'), 'bridge sip:bob@example.com'));
  it('a URI is used as given', async () => assert.equal(await bridgedTo('given', 'request-uri'), 'bridge sip:carol@example.org'));
});
