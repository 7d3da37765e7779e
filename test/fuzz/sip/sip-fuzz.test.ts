// Fuzz: thousands of mutated SIP messages into the parser and into a running server (UDP,
// TCP and the control port); afterwards the server must still answer a valid call. Then the
// kinds of input of issue 12 (duplicated headers, hold and delayed offers, forged responses
// to reflect), batch by batch: after each the server answers, nothing reached the victim,
// and every transaction, dialog and pending request is gone once its timers ran.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { SipError } from '../../../src/sip/message/sip-error.ts';
import { ParseError, parseMessage } from '../../../src/sip/message/parse-message.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts } from '../../helpers/sipp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { HOSTILE_KINDS, HostileInput } from './hostile-kinds.ts';
import { Mutator } from './mutator.ts';

const SEED_DIR = new URL('./seeds/', import.meta.url).pathname;
const seeds = readdirSync(SEED_DIR).filter((f) => f.endsWith('.sip')).map((f) => readFileSync(SEED_DIR + f));

describe('SIP fuzz', () => {
  let h: Harness;
  const invites: string[] = [];

  before(async () => {
    // Short timers (64*T1 = 1.6 s) so that what a batch leaves is gone within the test.
    h = await startHarness({ maxMessageSize: 8192, timers: { ...defaultConfig.sip.timers, t1: 25, t2: 200, t4: 250 } });
    h.srf.invite((req, res) => {
      invites.push(req.get('Call-ID'));
      h.srf.createUAS(req, res, { localSdp: SDP }).catch(() => undefined);
    });
    // srf.register exists at run time; the typings leave it out.
    (h.srf as unknown as { register(f: (q: unknown, s: { send(n: number): void }) => void): void }).register((_req, res) => res.send(200));
  });
  after(() => h.close());

  it('the parser only ever fails with ParseError or SipError (20,000 mutations)', () => {
    const m = new Mutator(12345);
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      const input = m.mutate(seeds[i % seeds.length]);
      try {
        const msg = parseMessage(input);
        parsed++;
        // the views the core reads must fail cleanly too
        for (const f of [() => msg.callId, () => msg.cseq, () => msg.from, () => msg.to, () => msg.topVia]) {
          try {
            f();
          } catch (err) {
            assert.ok(err instanceof SipError, `case ${i}: ${String(err)}`);
          }
        }
        msg.toBuffer();
      } catch (err) {
        assert.ok(err instanceof ParseError || err instanceof SipError, `case ${i}: ${String(err)}`);
      }
    }
    assert.ok(parsed > 1000, `some mutations still parse (${parsed})`);
  });

  it('5,000 mutated datagrams, 500 mutated TCP streams and 500 mutated control commands leave the server serving', async () => {
    const m = new Mutator(777);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const udpPort = h.server.sipPort('udp');
    for (let i = 0; i < 5000; i++) {
      sock.send(m.mutate(seeds[i % seeds.length]), udpPort, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 500; i++) {
      const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
      s.on('error', () => undefined);
      s.resume();
      await new Promise((r) => s.once('connect', r));
      s.end(m.mutate(seeds[i % seeds.length]));
      if (i % 50 === 0) await new Promise((r) => s.once('close', r));
    }
    // An authenticated control client sending mutated commands.
    const ctl = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
    ctl.on('error', () => undefined);
    ctl.resume();
    await new Promise((r) => ctl.once('connect', r));
    const send = (p: string) => ctl.write(`${Buffer.byteLength(p)}#${p}`);
    send('a1|authenticate|test-secret|');
    const kinds = ['sip||', 'sip|x|', 'sip||nope;from-tag=1', 'proxy|x|||||||sip:1.2.3.4', 'route|', 'remove_route|zzz', 'ping', 'bogus'];
    for (let i = 0; i < 500; i++) {
      const body = m.mutate(seeds[i % seeds.length]).toString('utf8');
      send(`f${i}|${kinds[i % kinds.length]}\r\n${body}`);
    }
    ctl.destroy();
    sock.close();
    const r = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 3, rate: 10, service: 'parley', timeoutS: 10 });
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.errors);
    assert.deepEqual(sippCounts(r.stdout), { ok: 3, failed: 0 });
    // The mutated control commands send requests to 127.0.0.1:5060; when something on the
    // machine answers there (another SIP server or SIPp), an INVITE's non-2xx keeps its
    // transaction for timer D (32 s on UDP, whatever T1 is). Wait that out here, so the cases
    // below count only what they leave themselves, and so this case checks for leaks too.
    const left = await waitFor('every transaction, dialog and pending request of the mutated input to end', () => {
      const st = h.server.stats;
      return st.dialogs + st.serverTransactions + st.clientTransactions + st.pendingApp === 0 ? true : undefined;
    }, 60_000).catch(() => h.server.stats);
    assert.equal(left, true, `left behind: ${JSON.stringify(left)}`);
  });

  for (const kind of HOSTILE_KINDS) {
    it(`${kind}: 200 datagrams, then the server answers, the victim heard nothing and nothing is left`, async () => {
      const client = await RawSipClient.open();
      const victim = await RawSipClient.open();
      try {
        const sipPort = h.server.sipPort('udp');
        const input = new HostileInput({ parley: sipPort, client: client.port, victim: victim.port }, 31337 + kind.length);
        const before = invites.length;
        for (let i = 0; i < 200; i++) {
          client.send(sipPort, input.make(kind, i));
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
        // Still serving: the probe gets its answer (503: no app routed OPTIONS here).
        const probe = request('OPTIONS', victim.port);
        victim.send(sipPort, probe.text);
        const first = await victim.nextMatching(/^SIP\/2\.0 /, 10_000);
        assert.ok(first.includes(probe.branch), `the victim got something before its own answer:\n${first}`);
        if (kind === 'duplicated-headers') {
          // Every unmutated one carries a duplicate: none may reach the app (mutated ones may have lost it).
          const reached = invites.slice(before).filter((c) => {
            const m = /^(?:dup|other|compact)-(\d+)@/.exec(c);
            return m !== null && !HostileInput.mutated(Number(m[1]));
          });
          assert.deepEqual(reached, [], 'INVITEs with a duplicated single-valued header reached the app');
        }
        const left = await waitFor('every transaction, dialog and pending request to end', () => {
          const st = h.server.stats;
          return st.dialogs + st.serverTransactions + st.clientTransactions + st.pendingApp === 0 ? true : undefined;
        }, 30_000).catch(() => h.server.stats);
        assert.equal(left, true, `left behind: ${JSON.stringify(left)}`);
      } finally {
        client.close();
        victim.close();
      }
    });
  }
});
