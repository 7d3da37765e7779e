// Dialog rules over a real socket (RFC 3261 §14.2, §12.2.2, §9.2): overlapping INVITEs get
// 491 (or go to the app when the earlier exchange is complete), out-of-order CSeqs 500, and a CANCEL that loses the race with the 200 OK gets 481
// while the server ends the call with a BYE.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('dialog rules', () => {
  let h: Harness;
  let c: RawSipClient;
  let port: number;
  /** Responses to re-INVITEs the app holds (answered by the test). */
  const held: Array<{ send(status: number, opts?: unknown): void }> = [];
  /** The app's dialogs, in the order the INVITEs came. */
  const dialogs: Srf.Dialog[] = [];

  before(async () => {
    h = await startHarness();
    port = h.server.sipPort('udp');
    c = await RawSipClient.open();
    h.srf.invite((req, res) => {
      h.srf
        .createUAS(req, res, { localSdp: SDP })
        .then((d) => {
          dialogs.push(d);
          d.on('modify', (_req: unknown, r: { send(status: number, opts?: unknown): void }) => held.push(r));
        })
        .catch((err: unknown) => h.log.error({ err }, 'createUAS'));
    });
  });
  after(() => {
    c.close();
    h.close();
  });

  /** Sends an INVITE, returns the 200 OK's To (with the server's tag) and the request. */
  async function answered(offer = SDP): Promise<{ to: string; r: ReturnType<typeof request> }> {
    const r = request('INVITE', c.port, {}, offer);
    c.send(port, r.text);
    const ok = await c.nextMatching(/^SIP\/2\.0 200/);
    const to = /\r\nTo: ([^\r]+)/.exec(ok)?.[1] ?? '';
    assert.match(to, /tag=/);
    return { to, r };
  }

  function inDialog(method: string, cseq: number, r: ReturnType<typeof request>, to: string, body = ''): string {
    return request(method, c.port, { To: to, 'Call-ID': r.callId, CSeq: `${cseq} ${method}`, From: /\r\nFrom: ([^\r]+)/.exec(r.text)?.[1] ?? '' }, body).text;
  }

  it('a re-INVITE before the ACK of a 2xx that carried our offer (offerless INVITE) gets 491 Request Pending', async () => {
    // RFC 3261 §13.2.1: the answer comes in that ACK; until then the exchange is in progress.
    const { to, r } = await answered('');
    c.send(port, inDialog('INVITE', 2, r, to, SDP));
    const res = await c.nextMatching(/^SIP\/2\.0 (491|[2-6]\d\d)/);
    assert.match(res, /^SIP\/2\.0 491 /);
    assert.equal(held.length, 0, 'the app never saw it');
    c.send(port, inDialog('ACK', 1, r, to, SDP));
    c.send(port, inDialog('BYE', 3, r, to));
    await c.nextMatching(/^SIP\/2\.0 200/);
  });

  it('a re-INVITE before the ACK of a 2xx that answered the INVITE\'s offer goes to the app (that exchange is complete)', async () => {
    // RFC 5407 §3.1.4: the ACK carries nothing for the session; drachtio-server hands it on too.
    const { to, r } = await answered();
    c.send(port, inDialog('INVITE', 2, r, to, SDP));
    await waitFor('the app holds the re-INVITE', () => held.length === 1);
    c.send(port, inDialog('ACK', 1, r, to));
    held.shift()!.send(200, { body: SDP });
    assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /), /^SIP\/2\.0 200 [\s\S]*CSeq: 2 INVITE/);
    c.send(port, inDialog('ACK', 2, r, to));
    c.send(port, inDialog('BYE', 3, r, to));
    await c.nextMatching(/^SIP\/2\.0 200/);
  });

  it("the app's re-INVITE answered 491: one ACK, the transaction's, on the INVITE's branch (drachtio-srf's own ACK gets NOK, as from drachtio-server)", async () => {
    const before = dialogs.length;
    const { to, r } = await answered();
    c.send(port, inDialog('ACK', 1, r, to));
    // (createUAS resolves with the dialog once the ACK came.)
    await waitFor('the app has the dialog', () => dialogs.length > before);
    const d = dialogs[dialogs.length - 1]!;
    // As Parley's hold propagation sends it: Dialog#request, which asks for an ACK after any final response above 200.
    const modified = d.request({ method: 'INVITE', body: SDP } as unknown as Srf.SrfRequest).then((res) => res.status);
    const reinvite = await c.nextMatching(/^INVITE /);
    const branch = /\r\nVia: [^\r]*branch=([^;\r\s]+)/.exec(reinvite)?.[1];
    const head = (name: string): string => new RegExp(`\r\n${name}: ([^\r]+)`).exec(reinvite)?.[1] ?? '';
    c.send(port, ['SIP/2.0 491 Request Pending', `Via: ${head('Via')}`, `From: ${head('From')}`, `To: ${head('To')}`, `Call-ID: ${head('Call-ID')}`, `CSeq: ${head('CSeq')}`, 'Content-Length: 0', '', ''].join('\r\n'));
    assert.equal(await modified, 491);
    const first = await c.nextMatching(/^ACK /);
    assert.ok(first.includes(`branch=${branch}`), 'the ACK is the transaction\'s');
    // Nothing more: no second ACK on a new branch.
    await new Promise((res) => setTimeout(res, 400));
    c.send(port, inDialog('BYE', 2, r, to));
    const next = await c.nextMatching(/^(ACK |SIP\/2\.0 200)/);
    assert.match(next, /^SIP\/2\.0 200/, `a second ACK came: ${next.split('\r\n').slice(0, 2).join(' | ')}`);
  });

  it('a re-INVITE while the previous one is still unanswered gets 500 with a Retry-After of 0 to 10 s', async () => {
    const { to, r } = await answered();
    c.send(port, inDialog('ACK', 1, r, to));
    c.send(port, inDialog('INVITE', 2, r, to, SDP));
    await waitFor('the app holds the first re-INVITE', () => held.length === 1);
    c.send(port, inDialog('INVITE', 3, r, to, SDP));
    const res = await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /);
    assert.match(res, /^SIP\/2\.0 500 /);
    assert.match(res, /CSeq: 3 INVITE/);
    const retry = /\r\nRetry-After: (\d+)\r\n/.exec(res);
    assert.ok(retry, `no Retry-After (RFC 3261 §14.2):\n${res}`);
    assert.ok(Number(retry[1]) <= 10);
    held.shift()!.send(200, { body: SDP });
    assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /), /^SIP\/2\.0 200 [\s\S]*CSeq: 2 INVITE/);
    c.send(port, inDialog('ACK', 2, r, to));
    c.send(port, inDialog('BYE', 4, r, to));
    await c.nextMatching(/^SIP\/2\.0 200/);
  });

  it('an in-dialog request with an old CSeq gets 500', async () => {
    const { to, r } = await answered();
    c.send(port, inDialog('ACK', 1, r, to));
    c.send(port, inDialog('INFO', 5, r, to));
    await c.nextMatching(/^SIP\/2\.0 200/);
    c.send(port, inDialog('INFO', 4, r, to));
    assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 500 /);
    c.send(port, inDialog('BYE', 6, r, to));
    await c.nextMatching(/^SIP\/2\.0 200/);
    assert.equal(h.server.stats.dialogs, 0);
  });

  it('a CANCEL after the 200 OK gets 481, and the server sends a BYE giving the reason', async () => {
    const { r } = await answered();
    const cancel = r.text.replace(/^INVITE /, 'CANCEL ').replace('1 INVITE', '1 CANCEL').replace(/\r\n\r\nv=0[\s\S]*$/, '\r\n\r\n').replace(/Content-Length: \d+/, 'Content-Length: 0');
    c.send(port, cancel);
    const seen: string[] = [await c.next(), await c.next()];
    const resp = seen.find((m) => m.startsWith('SIP/2.0'));
    const bye = seen.find((m) => m.startsWith('BYE '));
    assert.match(resp ?? '', /^SIP\/2\.0 481 /);
    assert.ok(bye, 'the server sent a BYE');
    assert.match(bye, /Reason: .*CANCEL after 200 OK/);
    assert.ok(bye.includes(r.callId));
  });
});
