// The loop marker's stamp: Parley's own legs carry `b2b;t=…;sig=…`, which only Parley's key
// makes; a bare or forged marker, another key's, or one too old does not mark a request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoopMarker } from '../../../src/policy/loop-marker.ts';
import { RuleChain } from '../../../src/policy/rule-chain.ts';
import { parseSipRequest } from '../../../src/signaling/sip-text.ts';

const cfg = { header: 'X-Parley-Leg', value: 'b2b' };
const api = { token: 'tok-0123456789abcdef', tokens: [] };

describe('LoopMarker', () => {
  it('verifies its own stamps, fresh each read, and nothing else', () => {
    let now = 1_750_000_000_000;
    const m = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: { secret: 'a-secret-of-16-chars' } }, api }), () => now);
    const v = m.value;
    assert.match(v, /^b2b;t=1750000000;sig=[A-Za-z0-9_-]{22}$/);
    assert.equal(m.verify(v), true);
    assert.equal(m.verify(`other, ${v}`), true, 'one of several values');
    for (const bad of [undefined, '', 'b2b', 'b2b;t=1750000000', `${v}x`, v.replace('b2b', 'b2c'), v.replace('t=1750000000', 't=1750000001'), 'anything']) assert.equal(m.verify(bad), false, String(bad));
    const other = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: { secret: 'another-secret-16ch' } }, api }), () => now);
    assert.equal(other.verify(v), false, "another key's stamp");
    now += 300_000;
    assert.equal(m.verify(v), true, 'five minutes later');
    now += 1_000;
    assert.equal(m.verify(v), false, 'too old');
    now += 1_000;
    assert.notEqual(m.value, v);
  });

  it('keys: the secret, else shared in a cluster (from the API token), else random per process', () => {
    const a = LoopMarker.keyFor({ routing: { loopMarker: {} }, cluster: {}, api });
    const b = LoopMarker.keyFor({ routing: { loopMarker: { secret: null } }, cluster: {}, api });
    assert.deepEqual(a, b, 'two nodes of a cluster');
    const c = LoopMarker.keyFor({ routing: { loopMarker: {} }, api });
    const d = LoopMarker.keyFor({ routing: { loopMarker: {} }, api });
    assert.notDeepEqual(c, d, 'alone: random');
  });

  it("the rule chain gives an INVITE with a bare or forged marker to the app; Parley's own stamp is proxied on", () => {
    const m = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: {} }, api }));
    const chain = new RuleChain({ proxyByDefault: true, declineStatus: 403, defaultRoute: null, loopMarker: cfg, rules: [{ name: 'gw', match: { method: 'INVITE' }, actions: [{ app: 'record-notice' }] }] }, (raw) => m.verify(raw));
    const invite = (marker: string): ReturnType<typeof parseSipRequest> =>
      parseSipRequest(['INVITE sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', 'To: <sip:bob@example.com>', 'Call-ID: c', 'CSeq: 1 INVITE', `X-Parley-Leg: ${marker}`, 'Content-Length: 0', '', ''].join('\r\n'), '10.0.0.1');
    assert.equal(chain.evaluate(invite('b2b')).outcome.kind, 'app', 'a bare marker anyone can send');
    assert.equal(chain.evaluate(invite('b2b;t=1;sig=AAAAAAAAAAAAAAAAAAAAAA')).outcome.kind, 'app');
    const d = chain.evaluate(invite(m.value));
    assert.equal(d.outcome.kind, 'proxy');
    assert.equal(d.loopMarked, true);
  });
});
