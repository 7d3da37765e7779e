// Malformed From, To, Contact or Record-Route where the server reads them late: in a response
// to one of its own client transactions (a B leg's 200 or 180), or in a request an app asks it
// to send (the control port's `sip||`). Each was read again from a timer or a transaction
// callback, where a SipError ("unterminated <") escaped as an uncaught exception (the SIP fuzz
// test's 500 mutated control commands: an INVITE with `To: <sip:bob@127.0.0.1` went out and
// its timer B threw), or the call hung with its transaction and dialog left behind. Now a bad
// response is dropped (the call then fails with a 408 by timer B), a bad app request gets an
// NOK and goes nowhere, and nothing is left behind.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

/** A response to `req` (text of a request received) with headers replaced or added. */
function answer(req: string, status: string, over: Record<string, string>): string {
  const lines = req.split('\r\n');
  const keep = lines.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).map((l) => (/^To:/i.test(l) ? `${l};tag=callee1` : l));
  const names = new Set(Object.keys(over).map((k) => k.toLowerCase()));
  const kept = keep.filter((l) => !names.has(l.slice(0, l.indexOf(':')).toLowerCase()));
  return [`SIP/2.0 ${status}`, ...kept, ...Object.entries(over).map(([k, v]) => `${k}: ${v}`), 'Content-Length: 0', '', ''].join('\r\n');
}

async function failure(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { status?: number }).status;
  }
  throw new Error('the request did not fail');
}

/** `p`, or a rejection after `ms` (a call that hangs fails its own case, not the file). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

describe('malformed headers read late', () => {
  /** Where the B leg's INVITE must time out: short timers, timer B is 64*T1 = 1.6 s (and timer J of the OPTIONS probe). */
  let h: Harness;
  /** Where the callee's 200 must come before timer B (64*T1 = 3.2 s): the test of an owner gone. */
  let slow: Harness;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  const answerOptions = (x: Harness): void =>
    (x.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));

  before(async () => {
    process.on('uncaughtException', onUncaught);
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: 25, t2: 200, t4: 250 } });
    slow = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: 50, t2: 200, t4: 250 } });
    answerOptions(h);
    answerOptions(slow);
  });
  after(() => {
    h.close();
    slow.close();
    process.off('uncaughtException', onUncaught);
  });

  /** A raw drachtio control connection, authenticated: what an app sends and what it got back so far. */
  async function controlApp(x: Harness = h): Promise<{ ctl: net.Socket; send: (p: string) => void; got: () => string }> {
    const ctl = net.connect({ host: '127.0.0.1', port: x.server.controlPort });
    ctl.on('error', () => undefined);
    let got = '';
    ctl.on('data', (d: Buffer) => void (got += d.toString()));
    await new Promise((r) => ctl.once('connect', r));
    const send = (p: string): void => void ctl.write(`${Buffer.byteLength(p)}#${p}`);
    send('a1|authenticate|test-secret|');
    await waitFor('authenticated', () => (/\|a1\|OK/.test(got) ? true : undefined), 10_000);
    return { ctl, send, got: () => got };
  }

  async function assertClean(x: Harness = h): Promise<void> {
    const left = await waitFor('every transaction, dialog and pending request to end', () => {
      const st = x.server.stats;
      return st.dialogs + st.serverTransactions + st.clientTransactions + st.pendingApp === 0 ? true : undefined;
    }, 20_000).catch(() => x.server.stats);
    assert.equal(left, true, `left behind: ${JSON.stringify(left)}`);
    assert.deepEqual(uncaught.map(String), []);
    // Still serving.
    const ua = await RawSipClient.open();
    try {
      ua.send(x.server.sipPort('udp'), request('OPTIONS', ua.port).text);
      assert.match((await ua.nextMatching(/^SIP\/2\.0 [2-6]/, 10_000)).split('\r\n')[0], /^SIP\/2\.0 200 /);
    } finally {
      ua.close();
    }
  }

  const badResponses: Array<[string, string, Record<string, string>]> = [
    ['a 200 whose Contact never closes its <', '200 OK', { Contact: '<sip:callee@127.0.0.1' }],
    ['a 200 whose Contact is no URI', '200 OK', { Contact: '<nonsense>' }],
    ['a 200 whose Record-Route is no URI', '200 OK', { Contact: '<sip:callee@127.0.0.1>', 'Record-Route': '<sip:proxy.invalid;lr>, <garbage>' }],
    ['a 200 whose To never closes its <', '200 OK', { To: '<sip:bob@127.0.0.1;tag=callee1', Contact: '<sip:callee@127.0.0.1>' }],
    ['a reliable 183 whose Contact never closes its <', '183 Session Progress', { Require: '100rel', RSeq: '1', Contact: '<sip:callee@127.0.0.1' }],
  ];
  for (const [name, status, over] of badResponses) {
    it(`${name} to a B leg's INVITE is dropped: the INVITE times out (408), nothing is left`, async () => {
      const callee = await RawSipClient.open();
      try {
        const call = failure(h.srf.createUAC(`sip:bob@127.0.0.1:${callee.port}`, { localSdp: SDP }));
        const invite = await callee.nextMatching(/^INVITE /, 10_000);
        const res = answer(invite, status, over);
        callee.send(h.server.sipPort('udp'), res);
        callee.send(h.server.sipPort('udp'), res); // and its retransmission
        assert.equal(await within(call, 15_000, 'the B leg never failed'), 408);
        await assertClean();
      } finally {
        callee.close();
      }
    });
  }

  it('an app request whose To never closes its < gets an NOK and is not sent', async () => {
    const callee = await RawSipClient.open();
    const { ctl, send, got } = await controlApp();
    try {
      const sip = [
        `INVITE sip:bob@127.0.0.1:${callee.port} SIP/2.0`,
        'From: <sip:alice@127.0.0.1>;tag=a1',
        'To: <sip:bob@127.0.0.1',
        'Call-ID: bad-to@fuzz',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      send(`r1|sip||\r\n${sip}`);
      const reply = await waitFor('the reply to r1', () => /\|r1\|([^\r\n]*)/.exec(got())?.[1], 10_000);
      assert.match(reply, /^NOK\|/);
      await assert.rejects(callee.next(500), /no SIP message/, 'the INVITE went out');
      await assertClean();
    } finally {
      ctl.destroy();
      callee.close();
    }
  });

  it('a 200 that comes after the app that sent the INVITE is gone is ACKed and ended with a BYE, no dialog is kept', async () => {
    const callee = await RawSipClient.open();
    const { ctl, send } = await controlApp(slow);
    try {
      const sip = [`INVITE sip:bob@127.0.0.1:${callee.port} SIP/2.0`, 'From: <sip:alice@127.0.0.1>;tag=a1', 'To: <sip:bob@127.0.0.1>', 'Call-ID: owner-gone@test', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n');
      send(`r1|sip||\r\n${sip}`);
      const invite = await callee.nextMatching(/^INVITE /, 10_000);
      ctl.destroy();
      const control = (slow.server as unknown as { control: { connections: unknown[] } }).control;
      await waitFor('the control connection to be gone', () => (control.connections.length === 1 ? true : undefined), 10_000); // the harness app's
      callee.send(slow.server.sipPort('udp'), answer(invite, '200 OK', { Contact: `<sip:callee@127.0.0.1:${callee.port}>` }));
      await callee.nextMatching(/^ACK /, 10_000);
      const bye = await callee.nextMatching(/^BYE /, 10_000);
      callee.send(slow.server.sipPort('udp'), answer(bye, '200 OK', {}));
      await assertClean(slow);
    } finally {
      ctl.destroy();
      callee.close();
    }
  });
});
