// Dialog rules over a real socket (RFC 3261 §14.2, §12.2.2, §9.2): overlapping INVITEs get
// 491 (or go to the app when the earlier exchange is complete), out-of-order CSeqs 500, and a CANCEL that loses the race with the 200 OK gets 481
// while the server ends the call with a BYE.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('dialog rules', () => {
  let h: Harness;
  let c: RawSipClient;
  let port: number;
  /** Responses to re-INVITEs the app holds (answered by the test). */
  const held: Array<{ send(status: number, opts?: unknown): void }> = [];

  before(async () => {
    h = await startHarness();
    port = h.server.sipPort('udp');
    c = await RawSipClient.open();
    h.srf.invite((req, res) => {
      h.srf
        .createUAS(req, res, { localSdp: SDP })
        .then((d) => d.on('modify', (_req: unknown, r: { send(status: number, opts?: unknown): void }) => held.push(r)))
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
