// An OPTIONS addressed to Parley itself (an SBC's keep-alive) against a whole Parley with its
// default routing: answered 200 with Allow and Accept, never proxied back to itself (that
// was a 482); an OPTIONS for somewhere else is still proxied there. So are the other methods
// no rule takes: addressed to Parley, a phone's REGISTER gets 405 with Allow (it was a 482
// "merged request" too), a MESSAGE 404, a NOTIFY outside any dialog 481; elsewhere, proxied.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

const routing = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: hello }]
flows:
  hello:
    - answer
    - hangup
`;

describe('OPTIONS addressed to Parley', () => {
  let parley: RunningParley;
  let c: RawSipClient;

  before(async () => {
    parley = await startParley(routing);
    c = await RawSipClient.open();
  });
  after(async () => {
    c.close();
    await parley.stop();
  });

  for (const ruri of ['sip:127.0.0.1:PORT', 'sip:anyone@127.0.0.1:PORT', 'sip:127.0.0.1:PORT;transport=udp']) {
    it(`OPTIONS ${ruri} is answered 200 with Allow and Accept`, async () => {
      const uri = ruri.replace('PORT', String(parley.sipPort));
      const r = request('OPTIONS', c.port, { To: `<${uri}>` });
      c.send(parley.sipPort, r.text.replace('OPTIONS sip:parley@127.0.0.1 SIP/2.0', `OPTIONS ${uri} SIP/2.0`));
      const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.match(res, /^SIP\/2\.0 200 /);
      assert.ok(res.includes(r.branch));
      assert.match(res, /\r\nAllow: [^\r]*OPTIONS/);
      assert.match(res, /\r\nAccept: application\/sdp\r\n/);
    });
  }

  it('an OPTIONS for another host is still proxied there, and its answer comes back', async () => {
    const far = await RawSipClient.open();
    try {
      const uri = `sip:far@127.0.0.1:${far.port}`;
      const r = request('OPTIONS', c.port, { To: `<${uri}>` });
      c.send(parley.sipPort, r.text.replace('OPTIONS sip:parley@127.0.0.1 SIP/2.0', `OPTIONS ${uri} SIP/2.0`));
      const proxied = await far.next();
      assert.match(proxied, new RegExp(`^OPTIONS ${uri} SIP/2\\.0`));
      const keep = proxied.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).map((l) => (/^To:/i.test(l) ? `${l};tag=far` : l));
      far.send(parley.sipPort, `SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nServer: far-end\r\nContent-Length: 0\r\n\r\n`);
      const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.match(res, /^SIP\/2\.0 200 /);
      assert.match(res, /\r\nServer: far-end\r\n/);
    } finally {
      far.close();
    }
  });

  for (const [method, status] of [['REGISTER', 405], ['SUBSCRIBE', 405], ['PUBLISH', 405], ['MESSAGE', 404], ['NOTIFY', 481]] as const) {
    it(`${method} to Parley's own address, which no rule takes, is answered ${status} here, not proxied back to itself`, async () => {
      const uri = `sip:alice@127.0.0.1:${parley.sipPort}`;
      const extra: Record<string, string> = method === 'REGISTER' ? { Contact: `<sip:alice@127.0.0.1:${c.port}>`, Expires: '3600' } : method === 'MESSAGE' ? {} : { Event: 'presence' };
      const r = request(method, c.port, { To: `<${uri}>`, ...extra });
      c.send(parley.sipPort, r.text.replace(`${method} sip:parley@127.0.0.1 SIP/2.0`, `${method} ${uri} SIP/2.0`));
      const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/, 3000, r.callId);
      assert.match(res, new RegExp(`^SIP/2\\.0 ${status} `));
      if (status === 405) assert.match(res, /\r\nAllow: INVITE, [^\r]*\r\n/);
      assert.doesNotMatch(res, /merged request/);
    });
  }

  it('an out-of-dialog REFER to Parley gets 405 whose Allow lists what is valid there: neither REFER nor the methods Parley refuses (§21.4.6)', async () => {
    const uri = `sip:alice@127.0.0.1:${parley.sipPort}`;
    const r = request('REFER', c.port, { To: `<${uri}>`, 'Refer-To': '<sip:bob@127.0.0.1>' });
    c.send(parley.sipPort, r.text.replace('REFER sip:parley@127.0.0.1 SIP/2.0', `REFER ${uri} SIP/2.0`));
    const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/, 3000, r.callId);
    assert.match(res, /^SIP\/2\.0 405 /);
    const allow = /\r\nAllow: ([^\r]*)\r\n/.exec(res)?.[1]?.split(/,\s*/) ?? [];
    assert.ok(allow.includes('INVITE') && allow.includes('OPTIONS'), allow.join(', '));
    for (const m of ['REFER', 'REGISTER', 'SUBSCRIBE', 'PUBLISH']) assert.ok(!allow.includes(m), `Allow: ${allow.join(', ')}`);
  });

  it('a REGISTER for another host is still proxied there', async () => {
    const far = await RawSipClient.open();
    try {
      const uri = `sip:127.0.0.1:${far.port}`;
      const r = request('REGISTER', c.port, { To: '<sip:alice@example.com>', Contact: `<sip:alice@127.0.0.1:${c.port}>` });
      c.send(parley.sipPort, r.text.replace('REGISTER sip:parley@127.0.0.1 SIP/2.0', `REGISTER ${uri} SIP/2.0`));
      assert.match(await far.next(), new RegExp(`^REGISTER ${uri} SIP/2\\.0`));
    } finally {
      far.close();
    }
  });
});
