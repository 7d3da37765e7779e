// What an adversary sends, over real sockets (issue 12): forged responses are not relayed,
// answers to broken requests go back to the packet's source, duplicated single-valued
// headers are refused before any app sees the request, and a TCP message whose length
// cannot be read is answered 400 before the connection closes.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';

/** Every line of a response made from a request's headers (§8.2.6.2), as a downstream UAS would. */
function answer(req: string, status: string): string {
  const keep = req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  return `SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
}

describe('hostile input', () => {
  let h: Harness;
  let attacker: RawSipClient;
  let victim: RawSipClient;
  let sipPort: number;
  const invitesSeen: string[] = [];

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    attacker = await RawSipClient.open();
    victim = await RawSipClient.open();
    h.srf.invite((req, res) => {
      invitesSeen.push(req.get('Call-ID'));
      res.send(486);
    });
    // srf.options exists at run time; the typings leave it out.
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
  });
  after(() => {
    attacker.close();
    victim.close();
    h.close();
  });

  /** The victim asks Parley something; the first datagram it gets must be that answer: nothing was relayed to it before. */
  async function victimGotNothing(): Promise<void> {
    const probe = request('OPTIONS', victim.port);
    victim.send(sipPort, probe.text);
    const first = await victim.next();
    assert.ok(first.includes(probe.branch), `the victim got something else first:\n${first}`);
  }

  it('a response with a z9hG4bKsl branch Parley never made is not relayed to its second Via (§16.11, §18.1.2)', async () => {
    const forged =
      'SIP/2.0 200 OK\r\n' +
      'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsl0123456789abcdef\r\n' +
      `Via: SIP/2.0/UDP 127.0.0.1:${victim.port};branch=z9hG4bKvictim\r\n` +
      'From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: forged-1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n';
    attacker.send(sipPort, forged);
    await victimGotNothing();
  });

  it('a stateless forward on our Route still relays its real response; the same branch with another upstream Via is dropped', async () => {
    const downstream = await RawSipClient.open();
    try {
      const bye = request('BYE', attacker.port, {
        To: '<sip:parley@127.0.0.1>;tag=dialog1',
        Route: `<sip:127.0.0.1:${sipPort};lr>, <sip:127.0.0.1:${downstream.port};lr>`,
      });
      attacker.send(sipPort, bye.text);
      const forwarded = await downstream.next();
      assert.match(forwarded, /^BYE /);
      const ours = /^Via: SIP\/2\.0\/UDP [^\r]*branch=(z9hG4bKsl[0-9a-f]+)/m.exec(forwarded);
      assert.ok(ours, `our Via on top:\n${forwarded}`);
      downstream.send(sipPort, answer(forwarded, '200 OK'));
      const relayed = await attacker.nextMatching(/^SIP\/2\.0 200/);
      assert.ok(relayed.includes(bye.branch) && !relayed.includes(ours[1]), 'relayed upstream without our Via');
      // The downstream now knows a branch we made: it must not be able to aim a relay elsewhere.
      const upstreamVia = /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK-raw[^\r]*/m.exec(forwarded)?.[0] ?? '';
      assert.ok(upstreamVia, forwarded);
      const redirected = answer(forwarded, '200 OK').replace(upstreamVia, `Via: SIP/2.0/UDP 127.0.0.1:${victim.port};branch=z9hG4bKvictim2`);
      downstream.send(sipPort, redirected);
      await victimGotNothing();
    } finally {
      downstream.close();
    }
  });

  it('the 400 for an unparseable request goes to the packet\'s source, not to the host its Via names', async () => {
    const r = request('INVITE', victim.port, { 'Content-Length': 'abc' });
    attacker.send(sipPort, r.text); // the Via names the victim; the packet comes from the attacker
    const res = await attacker.next();
    assert.match(res, /^SIP\/2\.0 400 /);
    assert.ok(res.includes(r.branch));
    await victimGotNothing();
  });

  for (const [name, extra] of [
    ['Call-ID', 'Call-ID: second-call-id@127.0.0.1'],
    ['From', 'From: <sip:other@127.0.0.1>;tag=other'],
    ['To', 'To: <sip:other@127.0.0.1>'],
    ['CSeq', 'CSeq: 2 INVITE'],
    ['Max-Forwards', 'Max-Forwards: 5'],
    ['Content-Length', 'l: 0'],
  ] as const) {
    it(`an INVITE with ${name} twice gets 400 and never reaches the app (RFC 4475 §3.3.8)`, async () => {
      const r = request('INVITE', attacker.port);
      attacker.send(sipPort, r.text.replace('\r\n\r\n', `\r\n${extra}\r\n\r\n`));
      const res = await attacker.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.match(res, /^SIP\/2\.0 400 /);
      assert.ok(res.includes(r.branch));
      assert.ok(!invitesSeen.includes(r.callId), 'the app never saw it');
    });
  }

  for (const [name, cl] of [['no', ''], ['a negative', 'Content-Length: -999\r\n']] as const) {
    it(`over TCP, ${name} Content-Length is answered 400 on the connection, which then closes (§18.3)`, async () => {
      const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      const closed = new Promise((r) => s.once('close', r));
      const r = request('OPTIONS', s.localPort ?? 0, { Via: `SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bK-tcp-${name.length}`, 'Content-Length': null });
      s.write(r.text.replace('\r\n\r\n', `\r\n${cl}\r\n`));
      await closed;
      assert.match(got, /^SIP\/2\.0 400 /);
      assert.ok(got.includes(`branch=z9hG4bK-tcp-${name.length}`));
    });
  }

  it('over TCP, a peer that keeps its half of such a connection open is cut off within seconds, not after the 10 min idle time', async () => {
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp'), allowHalfOpen: true });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.resume();
    const ended = new Promise((r) => s.once('end', r));
    const closed = new Promise((r) => s.once('close', r));
    s.write(request('OPTIONS', s.localPort ?? 0, { 'Content-Length': null }).text);
    await ended; // the server's FIN after its 400; our side stays open
    const endedAt = Date.now();
    // Keep-alives on our open half: accepted while the server keeps the socket, reset once it has let it go.
    const pinger = setInterval(() => s.write('\r\n\r\n'), 200);
    // Only a guard: a minute is far from the 10 min idle time, however loaded the machine.
    let guard: NodeJS.Timeout | undefined;
    const limit = new Promise((r) => (guard = setTimeout(r, 60_000, 'still open')));
    const outcome = await Promise.race([closed.then(() => 'closed'), limit]);
    clearTimeout(guard);
    clearInterval(pinger);
    s.destroy();
    assert.equal(outcome, 'closed');
    // Let go by the linger after the FIN (2 s), not at once: the keep-alives were taken meanwhile.
    assert.ok(Date.now() - endedAt >= 1500, `closed ${Date.now() - endedAt} ms after the server's FIN`);
  });
});
