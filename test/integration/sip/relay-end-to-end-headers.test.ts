// End-to-end headers through the header-edit relay (a rule that removes a header: the request
// is relayed as a B2BUA, not proxied). Found from outside: the final response came back with
// none of the next hop's headers (401 without WWW-Authenticate, 407 without Proxy-Authenticate,
// 302 without Contact, 486 without Retry-After, OPTIONS 200 without Allow/Accept/Supported),
// the request lost Authorization and Proxy-Authorization, a REGISTER reached the registrar
// without its Contact (and the phone was told 200), and a SUBSCRIBE was answered 200 with a
// dialog whose NOTIFYs got 481. Raw UDP caller and next hop on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { header, RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { answer, attachRules, onEachServer, relayedCall, viaPort, type RelayServer } from '../../helpers/relay-call.ts';
import { SDP } from '../../helpers/sip-harness.ts';

/** `answer` with extra header lines. */
const answerWith = (req: string, status: string, extra: string[]): string => answer(req, status).replace(/\r\nContent-Length:/, `\r\n${extra.join('\r\n')}\r\nContent-Length:`);

onEachServer(suite);

function suite(label: string, start: () => Promise<RelayServer>): void {
  describe(`end-to-end headers through the header-edit relay, ${label}`, () => {
    let h: RelayServer;
    let caller: RawSipClient;
    let callee: RawSipClient;

    before(async () => {
      h = await start();
      caller = await RawSipClient.open();
      callee = await RawSipClient.open();
      attachRules(h.srf, [
        {
          name: 'strip',
          match: { headers: { 'X-Strip': { present: true } } },
          actions: [{ headers: { remove: ['X-Strip'] } }, { proxy: { targets: [`sip:bob@127.0.0.1:${callee.port}`] } }],
        },
      ]);
    });

    after(async () => {
      caller.close();
      callee.close();
      await h.close();
    });

    /** Sends `method` with X-Strip and `over`; the next hop answers `status` with `extra`; returns what each side got. */
    async function exchange(method: string, status: string, extra: string[], over: Record<string, string> = {}): Promise<{ got: string; final: string }> {
      const invite = method === 'INVITE';
      const r = request(method, caller.port, { 'X-Strip': '1', ...(invite ? { 'Content-Type': 'application/sdp' } : {}), ...over }, invite ? SDP : '');
      caller.send(h.sipPort, r.text);
      const got = await callee.nextMatching(new RegExp(`^${method} `));
      callee.send(viaPort(got), answerWith(got, status, extra));
      const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000, r.callId);
      if (invite) await callee.nextMatching(/^ACK /);
      return { got, final };
    }

    const cases: Array<[string, string, string[]]> = [
      ['REGISTER', '401 Unauthorized', ['WWW-Authenticate: Digest realm="x", nonce="abc", algorithm=MD5']],
      ['MESSAGE', '407 Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="x", nonce="abc"']],
      ['MESSAGE', '302 Moved Temporarily', ['Contact: <sip:else@127.0.0.1:5999>']],
      ['OPTIONS', '200 OK', ['Allow: INVITE, ACK, BYE', 'Accept: application/sdp', 'Supported: path', 'Warning: 399 nexthop "hello"']],
      ['INVITE', '407 Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="x", nonce="abc"']],
      ['INVITE', '302 Moved Temporarily', ['Contact: <sip:else@127.0.0.1:5999>']],
      ['INVITE', '486 Busy Here', ['Retry-After: 60']],
    ];
    for (const [method, status, extra] of cases) {
      it(`${method} ${status}: the next hop's ${extra.map((e) => e.split(':')[0]).join(', ')} reach the caller`, async () => {
        const { final } = await exchange(method, status, extra);
        assert.match(final, new RegExp(`^SIP/2\\.0 ${status.split(' ')[0]} `));
        for (const line of extra) {
          const [name, ...rest] = line.split(':');
          assert.equal(header(final, name!), rest.join(':').trim(), `${name} in:\n${final}`);
        }
      });
    }

    for (const method of ['REGISTER', 'MESSAGE', 'INVITE']) {
      it(`${method}: Authorization and Proxy-Authorization reach the next hop`, async () => {
        const auth = 'Digest username="alice", realm="x", nonce="abc", uri="sip:parley@127.0.0.1", response="0123456789abcdef0123456789abcdef"';
        const pauth = 'Digest username="alice", realm="p", nonce="n", uri="sip:parley@127.0.0.1", response="fedcba98765432100123456789abcdef"';
        const { got } = await exchange(method, '403 Forbidden', [], { Authorization: auth, 'Proxy-Authorization': pauth });
        assert.equal(header(got, 'Authorization'), auth, got);
        assert.equal(header(got, 'Proxy-Authorization'), pauth, got);
      });
    }

    it('REGISTER: the registrar gets the Contact and Expires, the phone the bindings of its 200', async () => {
      const contact = `<sip:alice@127.0.0.1:${caller.port}>`;
      const { got, final } = await exchange('REGISTER', '200 OK', [`Contact: ${contact};expires=3600`], { Contact: contact, Expires: '3600' });
      assert.equal(header(got, 'Contact'), contact, got);
      assert.equal(header(got, 'Expires'), '3600', got);
      assert.equal(header(final, 'Contact'), `${contact};expires=3600`, final);
    });

    it('INVITE 200: the caller gets Parley\'s Contact, not the callee\'s (its dialog is with the relay)', async () => {
      const { ok, back, dlg } = await relayedCall(caller, callee, h.sipPort, { 'X-Strip': '1', 'Content-Type': 'application/sdp' });
      assert.ok(header(ok, 'Contact') !== '' && !header(ok, 'Contact').includes(`:${callee.port}`), ok);
      caller.send(h.sipPort, request('BYE', caller.port, { ...dlg, CSeq: '2 BYE' }).text);
      const bye = await callee.nextMatching(/^BYE /);
      callee.send(back, answer(bye, '200 OK'));
      await caller.nextMatching(/^SIP\/2\.0 200 /);
    });

    it('SUBSCRIBE: refused 501 with a Warning, nothing reaches the notifier (its dialog could not be relayed)', async () => {
      const r = request('SUBSCRIBE', caller.port, { 'X-Strip': '1', Event: 'presence', Expires: '600' });
      caller.send(h.sipPort, r.text);
      const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000, r.callId);
      assert.match(final, /^SIP\/2\.0 501 /);
      assert.match(header(final, 'Warning'), /^399 parley ".*SUBSCRIBE.*match\.method/);
      await assert.rejects(callee.nextMatching(/^SUBSCRIBE /, 500), 'the SUBSCRIBE is not relayed');
    });
  });
}
