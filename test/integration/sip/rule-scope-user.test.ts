// A rule for one user (scope.user, match.to) over the wire: the user is the To URI's
// address-of-record, so a caller cannot step around "calls to bob" by adding a URI parameter
// (;transport=tcp, ;user=phone, ;maddr=…), by writing sips:, an escaped letter or the host in
// capitals (the field tester's r8 case).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

const yaml = `
routing:
  proxyByDefault: false
  declineStatus: 403
  rules:
    - name: moved
      match: { to: "sip:old-*@example.com" }
      actions: [{ redirect: { status: 302, contacts: ["sip:new@example.com"] } }]
    - name: bob-scope
      scope: { user: "sip:bob@example.com" }
      actions: [{ respond: { status: 480 } }]
`;

describe('a per-user rule over the wire', () => {
  let parley: RunningParley;
  before(async () => {
    parley = await startParley(yaml);
  });
  after(() => parley?.stop());

  async function finalFor(to: string): Promise<string> {
    const ua = await RawSipClient.open();
    try {
      const r = request('INVITE', ua.port, { To: to });
      ua.send(parley.sipPort, r.text);
      return (await ua.nextMatching(/^SIP\/2\.0 [2-6]/, 5000, r.callId)).split('\r\n')[0]!;
    } finally {
      ua.close();
    }
  }

  for (const to of [
    '<sip:bob@example.com>',
    '<sip:bob@example.com;transport=tcp>',
    '<sip:bob@example.com;user=phone>',
    '"Bob" <sip:bob@example.com;maddr=10.0.0.1>',
    '<sips:bob@EXAMPLE.com>',
    '<sip:%62ob@example.com>',
  ]) {
    it(`To: ${to} is bob's: his rule answers 480`, async () => {
      assert.match(await finalFor(to), /^SIP\/2\.0 480 /);
    });
  }

  for (const to of ['<sip:old-x@example.com>', '<sip:old-x@example.com;user=phone>']) {
    it(`To: ${to} is redirected by the moved rule`, async () => {
      assert.match(await finalFor(to), /^SIP\/2\.0 302 /);
    });
  }

  it('another user is not bob: declined', async () => {
    assert.match(await finalFor('<sip:bobby@example.com;user=phone>'), /^SIP\/2\.0 403 /);
  });
});
