// RFC 4475 §3, every torture message, sent over UDP to the embedded server with a drachtio-srf
// app behind it, each with the outcome the RFC gives: valid requests reach the app (INVITE
// 486, other methods 200) or get the answer the RFC names (481, 501, 420, 415, 416, 406,
// 505); invalid requests get 400; responses are dropped. Where the RFC lets an element be
// strict or liberal, the comment says which Parley is.
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { ParseError, parseMessage } from '../../../src/sip/message/parse-message.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';

const DIR = new URL('../../fixtures/sip/rfc4475/', import.meta.url).pathname;

/** The fixture with CRLF line ends (the files keep LF; byte-wise, so UTF-8 and binary stay intact). */
export function rfc4475(name: string): Buffer {
  const b = readFileSync(`${DIR}${name}.sip`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) {
      parts.push(b.subarray(start, i), Buffer.from('\r\n'));
      start = i + 1;
    }
  }
  parts.push(b.subarray(start));
  return Buffer.concat(parts);
}

/** Top Via header texts sent so far in this run (see withRport). */
const sentVias = new Set<string>();

/**
 * The RFC's hosts are not ours: an `rport` on the top Via (RFC 3581) makes the answer come
 * back to this socket, as a client behind a NAT would ask. The RFC's messages also reuse
 * branches (cparam01/cparam02, escnull/regescrt): sent one after another, the second would be
 * a retransmission of the first (§17.2.3), so a top Via seen before gets the case name added
 * to its branch. Nothing else is changed.
 */
function withRport(b: Buffer, name: string): Buffer {
  let text = b.toString('latin1');
  const m = /^(?:v|via)[ \t]*:[ \t]*(?:\r\n[ \t]+)?SIP[ \t\r\n]*\/[ \t\r\n]*\d\.\d[ \t\r\n]*\/[ \t\r\n]*[A-Za-z]+[ \t\r\n]+[^\s;,:]+(?:[ \t]*:[ \t]*\d+)?/im.exec(text);
  if (!m) return b;
  const lineEnd = text.indexOf('\r\n', m.index + m[0].length);
  const via = text.slice(m.index, lineEnd);
  if (sentVias.has(via)) text = text.slice(0, m.index) + via.replace(/branch=([^;\s,]+)/i, `branch=$1-${name}`) + text.slice(lineEnd);
  sentVias.add(via);
  if (/rport/.test(via)) return Buffer.from(text, 'latin1');
  const at = m.index + m[0].length;
  return Buffer.from(text.slice(0, at) + ';rport' + text.slice(at), 'latin1');
}

type Outcome = { status: number; header?: RegExp } | 'dropped';

const CASES: Array<[name: string, section: string, outcome: Outcome]> = [
  // 3.1.1 valid messages
  ['wsinv', '3.1.1.1', { status: 481 }], // valid; its To tag names a dialog that does not exist (§12.2.2)
  ['intmeth', '3.1.1.2', { status: 501, header: /\r\nAllow: INVITE/ }], // an endpoint answers an unknown method 501 with Allow
  ['esc01', '3.1.1.3', { status: 486 }],
  ['escnull', '3.1.1.4', { status: 200 }],
  ['esc02', '3.1.1.5', { status: 501 }], // RE%47IST%45R is an unknown method, not REGISTER
  ['lwsdisp', '3.1.1.6', { status: 200 }],
  ['longreq', '3.1.1.7', { status: 486 }],
  ['semiuri', '3.1.1.9', { status: 200 }],
  ['transports', '3.1.1.10', { status: 200 }],
  ['mpart01', '3.1.1.11', { status: 200 }],
  ['unreason', '3.1.1.12', 'dropped'], // a response to nothing we sent
  ['noreason', '3.1.1.13', 'dropped'],
  // 3.1.2 invalid messages
  ['badinv01', '3.1.2.1', { status: 400 }],
  ['clerr', '3.1.2.2', { status: 400 }],
  ['ncl', '3.1.2.3', { status: 400 }],
  ['scalar02', '3.1.2.4', { status: 400 }],
  ['scalarlg', '3.1.2.5', 'dropped'],
  ['quotbal', '3.1.2.6', { status: 400 }],
  ['ltgtruri', '3.1.2.7', { status: 400 }],
  ['lwsruri', '3.1.2.8', { status: 400 }],
  ['lwsstart', '3.1.2.9', { status: 400 }],
  ['trws', '3.1.2.10', { status: 400 }],
  ['escruri', '3.1.2.11', { status: 400 }], // strict: headers in a Request-URI
  ['baddate', '3.1.2.12', { status: 486 }], // liberal: Parley reads no Date
  ['regbadct', '3.1.2.13', { status: 200 }], // liberal: the Contact is the app's (registrar's) to judge
  ['badaspec', '3.1.2.14', { status: 200 }], // liberal: spaces inside <> ignored
  ['baddn', '3.1.2.15', { status: 200 }], // liberal: unquoted display names with commas taken as they are
  ['badvers', '3.1.2.16', { status: 505 }],
  ['mismatch01', '3.1.2.17', { status: 400 }],
  ['mismatch02', '3.1.2.18', { status: 501 }], // 501 preferred over 400 for an unknown method
  ['bigcode', '3.1.2.19', 'dropped'],
  // 3.2 transaction layer
  ['badbranch', '3.2.1', { status: 200 }],
  // 3.3 application layer
  ['insuf', '3.3.1', { status: 400 }],
  ['unkscm', '3.3.2', { status: 416 }],
  ['novelsc', '3.3.3', { status: 416 }],
  ['unksm2', '3.3.4', { status: 200 }], // parsed; not a registrar's decision here
  ['bext01', '3.3.5', { status: 420, header: /\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n/ }],
  ['invut', '3.3.6', { status: 415, header: /\r\nAccept: application\/sdp\r\n/ }],
  ['regaut01', '3.3.7', { status: 200 }],
  ['multi01', '3.3.8', { status: 400 }],
  ['mcl01', '3.3.9', { status: 400 }],
  ['bcast', '3.3.10', 'dropped'],
  ['zeromf', '3.3.11', { status: 200, header: /\r\nAllow: / }], // answered by Parley itself (§16.3, §11)
  ['cparam01', '3.3.12', { status: 200 }],
  ['cparam02', '3.3.13', { status: 200 }],
  ['regescrt', '3.3.14', { status: 200 }],
  ['sdp01', '3.3.15', { status: 406 }],
  // 3.4 backward compatibility
  ['inv2543', '3.4.1', { status: 486 }],
];

describe('RFC 4475 torture messages', () => {
  let h: Harness;
  let sipPort: number;

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    h.srf.invite((_req, res) => res.send(486));
    const answer200 = (_req: Srf.SrfRequest, res: Srf.SrfResponse) => res.send(200);
    const routes = h.srf as unknown as Record<'options' | 'register' | 'message', (f: typeof answer200) => void>;
    for (const m of ['options', 'register', 'message'] as const) routes[m].call(h.srf, answer200);
  });
  after(() => h.close());

  it('every request parses or fails with an answerable ParseError; the responses parse except bigcode', () => {
    for (const [name, , outcome] of CASES) {
      const raw = rfc4475(name);
      if (outcome === 'dropped') {
        if (name === 'bigcode') assert.throws(() => parseMessage(raw), (e: unknown) => e instanceof ParseError && e.partial === null);
        else assert.equal(parseMessage(raw).isRequest, false, name);
        continue;
      }
      try {
        assert.equal(parseMessage(raw).isRequest, true, name);
      } catch (err) {
        assert.ok(err instanceof ParseError && err.partial?.isRequest, `${name}: ${String(err)}`);
      }
    }
  });

  for (const [name, section, outcome] of CASES) {
    const what = outcome === 'dropped' ? 'dropped' : `answered ${outcome.status}`;
    it(`§${section} ${name}: ${what}`, async () => {
      const c = await RawSipClient.open(); // one socket per case: INVITE retransmissions stay apart
      try {
        c.send(sipPort, withRport(rfc4475(name), name));
        if (outcome === 'dropped') {
          const probe = request('OPTIONS', c.port);
          c.send(sipPort, probe.text);
          const first = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
          assert.ok(first.includes(probe.branch), `the first answer is the probe's:\n${first}`);
          return;
        }
        const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
        assert.match(res, new RegExp(`^SIP/2\\.0 ${outcome.status} `), res);
        if (outcome.header) assert.match(res, outcome.header);
      } finally {
        c.close();
      }
    });
  }

  it('§3.1.1.8 dblreq: the REGISTER is answered, the INVITE after its Content-Length is ignored', async () => {
    const c = await RawSipClient.open();
    try {
      c.send(sipPort, withRport(rfc4475('dblreq'), 'dblreq'));
      assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 200 [^]*CSeq: 8 REGISTER/);
      const probe = request('OPTIONS', c.port);
      c.send(sipPort, probe.text);
      const next = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
      assert.ok(next.includes(probe.branch), `nothing for the trailing INVITE:\n${next}`);
    } finally {
      c.close();
    }
  });

  it('§3.1.2.3 ncl over TCP: 400 on the connection, then it closes (§18.3)', async () => {
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    const closed = new Promise((r) => s.once('close', r));
    s.write(rfc4475('ncl'));
    await closed;
    assert.match(got, /^SIP\/2\.0 400 [^]*Call-ID: ncl\./);
  });
});
