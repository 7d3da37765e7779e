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
  it('verifies its own stamps, bound to the Call-ID and From tag they were made for, and nothing else', () => {
    let now = 1_750_000_000_000;
    const m = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: { secret: 'a-secret-of-16-chars' } }, api }), () => now);
    const v = m.stamp('call-1', 'tag-1');
    assert.match(v, /^b2b;t=1750000000;sig=[A-Za-z0-9_-]{22}$/);
    assert.equal(m.verify(v, 'call-1', 'tag-1'), true);
    assert.equal(m.verify(`other, ${v}`, 'call-1', 'tag-1'), true, 'one of several values');
    for (const bad of [undefined, '', 'b2b', 'b2b;t=1750000000', `${v}x`, v.replace('b2b', 'b2c'), v.replace('t=1750000000', 't=1750000001'), 'anything']) assert.equal(m.verify(bad, 'call-1', 'tag-1'), false, String(bad));
    assert.equal(m.verify(v, 'call-2', 'tag-1'), false, 'another Call-ID');
    assert.equal(m.verify(v, 'call-1', 'tag-2'), false, 'another From tag');
    const other = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: { secret: 'another-secret-16ch' } }, api }), () => now);
    assert.equal(other.verify(v, 'call-1', 'tag-1'), false, "another key's stamp");
    now += 300_000;
    assert.equal(m.verify(v, 'call-1', 'tag-1'), true, 'five minutes later');
    now += 1_000;
    assert.equal(m.verify(v, 'call-1', 'tag-1'), false, 'too old');
    now += 1_000;
    assert.notEqual(m.stamp('call-1', 'tag-1'), v);
  });

  it('seal: a Call-ID and From tag of its own, the stamp bound to them; admit takes it once, only while the leg is being placed', () => {
    const m = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: {} }, api }));
    const h: Record<string, string> = { 'X-Parley-Leg': m.value, From: '"Alice" <sip:alice@example.com>' };
    const placed = m.seal(h);
    const callId = h['Call-ID']!;
    const tag = /;tag=([0-9a-f]{16})$/.exec(h.From!)?.[1];
    assert.ok(callId && tag, JSON.stringify(h));
    assert.equal(m.verify(h['X-Parley-Leg'], callId, tag!), true);
    assert.equal(m.admit(h['X-Parley-Leg'], 'another-call', h.From), false, 'the stamp on another Call-ID: a replay');
    assert.equal(m.admit(h['X-Parley-Leg'], callId, '<sip:bob@example.com>;tag=1'), false, 'another From tag');
    assert.equal(m.admit(h['X-Parley-Leg'], callId, h.From), true, 'the leg come back');
    assert.equal(m.admit(h['X-Parley-Leg'], callId, h.From), false, 'once: the same stamp again is a replay');
    placed();
    const h2: Record<string, string> = { 'X-Parley-Leg': m.value, From: '<sip:alice@example.com>' };
    const placed2 = m.seal(h2);
    placed2();
    assert.equal(m.admit(h2['X-Parley-Leg'], h2['Call-ID'], h2.From), false, 'the leg placed already (answered, failed): a replay');
    const none: Record<string, string> = { From: '<sip:a@x>' };
    m.seal(none)();
    assert.deepEqual(none, { From: '<sip:a@x>' }, 'no marker: untouched');
  });

  it('keys: the secret, else shared in a cluster (from the API token), else random per process', () => {
    const a = LoopMarker.keyFor({ routing: { loopMarker: {} }, cluster: {}, api });
    const b = LoopMarker.keyFor({ routing: { loopMarker: { secret: null } }, cluster: {}, api });
    assert.deepEqual(a, b, 'two nodes of a cluster');
    const c = LoopMarker.keyFor({ routing: { loopMarker: {} }, api });
    const d = LoopMarker.keyFor({ routing: { loopMarker: {} }, api });
    assert.notDeepEqual(c, d, 'alone: random');
  });

  it("the rule chain gives an INVITE with a bare, forged or replayed marker to the app; Parley's own leg, come back, is proxied on", () => {
    const m = new LoopMarker(cfg, LoopMarker.keyFor({ routing: { loopMarker: {} }, api }));
    const chain = new RuleChain({ proxyByDefault: true, declineStatus: 403, defaultRoute: null, loopMarker: cfg, rules: [{ name: 'gw', match: { method: 'INVITE' }, actions: [{ app: 'record-notice' }] }] }, (raw, callId, from) => m.admit(raw, callId, from));
    const leg: Record<string, string> = { 'X-Parley-Leg': m.value, From: '<sip:a@x>' };
    m.seal(leg);
    const invite = (marker: string, callId = leg['Call-ID']!, from = leg.From!): ReturnType<typeof parseSipRequest> =>
      parseSipRequest(['INVITE sip:bob@example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1', `From: ${from}`, 'To: <sip:bob@example.com>', `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `X-Parley-Leg: ${marker}`, 'Content-Length: 0', '', ''].join('\r\n'), '10.0.0.1');
    assert.equal(chain.evaluate(invite('b2b')).outcome.kind, 'app', 'a bare marker anyone can send');
    assert.equal(chain.evaluate(invite('b2b;t=1;sig=AAAAAAAAAAAAAAAAAAAAAA')).outcome.kind, 'app');
    assert.equal(chain.evaluate(invite(leg['X-Parley-Leg']!, 'bobs-own-call', '<sip:bob@y>;tag=9')).outcome.kind, 'app', "the leg's stamp on a callee's own INVITE");
    const d = chain.evaluate(invite(leg['X-Parley-Leg']!));
    assert.equal(d.outcome.kind, 'proxy');
    assert.equal(d.loopMarked, true);
    assert.equal(chain.evaluate(invite(leg['X-Parley-Leg']!)).outcome.kind, 'app', 'the same again: taken once');
  });
});
