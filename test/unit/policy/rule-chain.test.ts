import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuleChain } from '../../../src/policy/rule-chain.ts';
import type { RoutingConfig, RuleConfig } from '../../../src/policy/rule-types.ts';
import { parseSipRequest } from '../../../src/signaling/sip-text.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

function invite(opts: { to?: string; uri?: string; from?: string; extra?: string[]; sdp?: string | null; method?: string } = {}) {
  const method = opts.method ?? 'INVITE';
  const uri = opts.uri ?? 'sip:bob@example.com';
  const sdp = opts.sdp === undefined ? 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n' : opts.sdp;
  const lines = [
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776',
    `From: ${opts.from ?? '"Alice" <sip:alice@example.com>;tag=a1'}`,
    `To: ${opts.to ?? '<sip:bob@example.com>'}`,
    'Call-ID: c1@10.0.0.1',
    `CSeq: 1 ${method}`,
    'User-Agent: TestPhone/1.0',
    ...(opts.extra ?? []),
    ...(sdp ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${sdp ? Buffer.byteLength(sdp) : 0}`,
  ];
  return parseSipRequest(lines.join('\r\n') + '\r\n\r\n' + (sdp ?? ''), '192.0.2.10');
}

function chain(rules: RuleConfig[], extra: Partial<RoutingConfig> = {}): RuleChain {
  return new RuleChain({
    proxyByDefault: true,
    declineStatus: 403,
    defaultRoute: null,
    loopMarker: { header: 'X-Parley-Leg', value: 'b2b' },
    rules,
    ...extra,
  });
}

describe('rule chain', () => {
  it('a <sip:…> inside the quoted display name is part of the name, not the URI a rule matches', () => {
    const c = chain([{ name: 'deny-premium', match: { method: 'INVITE', to: 'sip:premium@*' }, actions: [{ respond: { status: 403 } }] }]);
    const d = c.evaluate(invite({ to: '"<sip:ok@x>" <sip:premium@example.com>' }));
    assert.equal(d.decidedBy, 'deny-premium');
    assert.equal(c.evaluate(invite({ to: '"a \\" <sip:ok@x>" <sip:premium@example.com>' })).decidedBy, 'deny-premium', 'an escaped quote does not end the name');
    assert.equal(c.evaluate(invite({ to: '"<sip:premium@example.com>" <sip:ok@x>' })).decidedBy, null);
  });

  it('URIs match as they compare: an escaped unreserved character is that character (RFC 3261 §19.1.4), an escaped reserved one is not', () => {
    const c = chain([{ name: 'deny-premium', match: { method: 'INVITE', requestUri: 'sip:premium@*' }, actions: [{ respond: { status: 403 } }] }]);
    for (const uri of ['sip:%70remium@example.com', 'sip:pre%6Dium@example.com', 'sip:premium@example.com']) assert.equal(c.evaluate(invite({ uri })).decidedBy, 'deny-premium', uri);
    assert.equal(c.evaluate(invite({ uri: 'sip:premium%40x@example.com' })).decidedBy, null, '%40 stays an escaped @');
    const to = chain([{ name: 't', match: { method: 'INVITE', to: 'sip:boss@*' }, actions: [{ respond: { status: 403 } }] }]);
    assert.equal(to.evaluate(invite({ to: '<sip:%62oss@example.com>' })).decidedBy, 't');
  });

  it('a regex with the g or y flag matches every time (no lastIndex carried between requests)', () => {
    const c = chain([{ name: 'g', match: { method: 'INVITE', requestUri: '/^sip:gflag@/gi' }, actions: [{ respond: { status: 403 } }] }]);
    for (let i = 0; i < 4; i++) assert.equal(c.evaluate(invite({ uri: 'sip:gflag@example.com' })).decidedBy, 'g', `request ${i + 1}`);
  });

  it('a request no rule takes is proxied to its Request-URI when proxyByDefault is on', () => {
    const d = chain([]).evaluate(invite());
    assert.deepEqual(d.outcome, { kind: 'proxy', targets: ['sip:bob@example.com'], mode: 'serial', recordRoute: false });
    assert.equal(d.decidedBy, null);
  });

  it('proxyByDefault off declines an unmatched request with the configured status', () => {
    const d = chain([], { proxyByDefault: false, declineStatus: 404 }).evaluate(invite());
    assert.equal(d.outcome.kind, 'respond');
    assert.equal(d.outcome.kind === 'respond' && d.outcome.status, 404);
  });

  it("an app action's bridgeTo travels with the outcome", () => {
    const c = chain([{ name: 'phones', actions: [{ app: 'gateway', bridgeTo: 'request-uri' }] }]);
    assert.deepEqual(c.evaluate(invite()).outcome, { kind: 'app', flow: 'gateway', bridgeTo: 'request-uri' });
  });

  it('an audio INVITE for anyone goes to the app; an IM INVITE (m=message) falls through to the proxy', () => {
    const c = chain([{ name: 'answer-audio', match: { method: 'INVITE', media: 'audio' }, actions: [{ app: 'record-notice' }] }]);
    assert.deepEqual(c.evaluate(invite({ to: '<sip:anyone@x.org>' })).outcome, { kind: 'app', flow: 'record-notice' });
    const im = invite({ sdp: 'v=0\r\nm=message 5060 TCP/MSRP *\r\n' });
    const d = c.evaluate(im);
    assert.equal(d.outcome.kind, 'proxy');
    assert.deepEqual(d.trace[0], { rule: 'answer-audio', result: 'no-match', failed: ['media'] });
  });

  it('an m= line with port 0 is not offered media; no body at all matches media: none', () => {
    const c = chain([{ name: 'n', match: { media: 'none' }, actions: [{ respond: { status: 488 } }] }]);
    assert.equal(c.evaluate(invite({ sdp: null })).outcome.kind, 'respond');
    assert.equal(c.evaluate(invite({ sdp: 'v=0\r\nm=audio 0 RTP/AVP 0\r\n' })).outcome.kind, 'respond');
    assert.equal(c.evaluate(invite()).outcome.kind, 'proxy');
    const audio = chain([{ name: 'a', match: { method: 'INVITE', media: 'audio' }, actions: [{ respond: { status: 488 } }] }]);
    assert.equal(audio.evaluate(invite({ sdp: null })).outcome.kind, 'respond', 'a delayed offer (no body) is an audio call too');
    assert.equal(audio.evaluate(invite({ sdp: 'v=0\r\nm=audio 0 RTP/AVP 0\r\n' })).outcome.kind, 'proxy');
  });

  it('retarget changes the Request-URI and lets later rules run; proxy then uses it', () => {
    const c = chain([
      { name: 'move', match: { to: 'sip:bob@*' }, actions: [{ retarget: 'sip:bob@mobile.example.com' }] },
      { name: 'out', match: { requestUri: 'sip:*@mobile.example.com' }, actions: [{ proxy: null }] },
    ]);
    const d = c.evaluate(invite());
    assert.equal(d.requestUri, 'sip:bob@mobile.example.com');
    assert.deepEqual(d.outcome, { kind: 'proxy', targets: ['sip:bob@mobile.example.com'], mode: 'serial', recordRoute: false });
    assert.equal(d.decidedBy, 'out');
  });

  it('redirect returns the contacts with 302 by default', () => {
    const c = chain([{ name: 'r', match: { to: '/^sip:old-/' }, actions: [{ redirect: { contacts: ['sip:new@example.com'] } }] }]);
    assert.deepEqual(c.evaluate(invite({ to: '<sip:old-bob@example.com>' })).outcome, {
      kind: 'redirect',
      status: 302,
      contacts: ['sip:new@example.com'],
    });
    assert.equal(c.evaluate(invite()).outcome.kind, 'proxy');
  });

  it('header edits accumulate across rules, in order, and a terminal action ends the chain', () => {
    const c = chain([
      {
        name: 'strip',
        match: { headers: { 'Ms-Target-Class': { present: true } } },
        actions: [{ headers: { remove: ['Ms-Target-Class', 'Ms-Sensitivity'], add: { 'X-Seen': 'parley' } } }],
      },
      { name: 'stop', actions: [{ respond: { status: 480, reason: 'Away', headers: { 'Retry-After': '60' } } }] },
      { name: 'never', actions: [{ app: 'x' }] },
    ]);
    const d = c.evaluate(invite({ extra: ['Ms-Target-Class: secondary', 'Ms-Sensitivity: private'] }));
    assert.deepEqual(d.headerEdits, [
      { op: 'remove', name: 'Ms-Target-Class' },
      { op: 'remove', name: 'Ms-Sensitivity' },
      { op: 'add', name: 'X-Seen', value: 'parley' },
    ]);
    assert.deepEqual(d.outcome, { kind: 'respond', status: 480, reason: 'Away', headers: { 'Retry-After': '60' } });
    assert.equal(d.trace.length, 2, 'the rule after the terminal action is not evaluated');
  });

  it('header conditions: present false, contains, regex, glob', () => {
    const mk = (cond: object | string) => chain([{ name: 'h', match: { headers: { Subject: cond as never } }, actions: [{ app: 'a' }] }]);
    const withSubject = invite({ extra: ['Subject: Urgent call about invoice 42'] });
    assert.equal(mk({ present: false }).evaluate(invite()).outcome.kind, 'app');
    assert.equal(mk({ present: false }).evaluate(withSubject).outcome.kind, 'proxy');
    assert.equal(mk({ contains: 'INVOICE' }).evaluate(withSubject).outcome.kind, 'app');
    assert.equal(mk({ regex: 'invoice \\d+$' }).evaluate(withSubject).outcome.kind, 'app');
    assert.equal(mk('Urgent*').evaluate(withSubject).outcome.kind, 'app');
    assert.equal(mk('Routine*').evaluate(withSubject).outcome.kind, 'proxy');
  });

  it('matches on method lists, From, User-Agent, body text and source CIDR', () => {
    const c = (m: object) => chain([{ name: 'm', match: m as never, actions: [{ app: 'a' }] }]).evaluate(invite()).outcome.kind;
    assert.equal(c({ method: ['MESSAGE', 'INVITE'] }), 'app');
    assert.equal(c({ method: 'MESSAGE' }), 'proxy');
    assert.equal(c({ from: 'sip:alice@example.com' }), 'app', 'From matches its bare URI, not the display name or tag');
    assert.equal(c({ userAgent: 'TestPhone/*' }), 'app');
    assert.equal(c({ body: '*RTP/AVP 0 101*' }), 'app');
    assert.equal(c({ source: '192.0.2.0/24' }), 'app');
    assert.equal(c({ source: ['198.51.100.7', '2001:db8::/32'] }), 'proxy');
  });

  it('an app never takes a request carrying the loop marker; it is proxied on instead', () => {
    const c = chain([{ name: 'gw', match: { method: 'INVITE' }, actions: [{ app: 'record-notice' }] }]);
    const d = c.evaluate(invite({ extra: ['X-Parley-Leg: b2b'] }));
    assert.equal(d.loopMarked, true);
    assert.equal(d.outcome.kind, 'proxy');
    assert.match(d.trace[0]!.actions![0]!, /skipped: loop marker/);
    assert.equal(c.evaluate(invite({ extra: ['X-Parley-Leg: other'] })).outcome.kind, 'app');
  });

  it('rules can be switched off for everyone, or on and off for one user', () => {
    const c = chain([{ name: 'forward', enabled: false, match: { method: 'INVITE' }, actions: [{ retarget: 'sip:vm@example.com' }, { proxy: null }] }]);
    assert.equal(c.evaluate(invite()).requestUri, 'sip:bob@example.com', 'off in the config');
    c.setEnabled('forward', true, 'sip:bob@example.com');
    assert.equal(c.evaluate(invite()).requestUri, 'sip:vm@example.com', 'on for bob');
    assert.equal(c.evaluate(invite({ to: '<sip:carol@example.com>', uri: 'sip:carol@example.com' })).requestUri, 'sip:carol@example.com', 'still off for carol');
    c.setEnabled('forward', true);
    c.setEnabled('forward', false, '<sip:bob@example.com>');
    assert.equal(c.evaluate(invite()).trace[0]!.result, 'disabled', 'the per-user switch beats the global one');
    assert.throws(() => c.setEnabled('nope', true), /no rule named 'nope'/);
    const restored = chain(c.config.rules);
    restored.setSwitches(c.getSwitches());
    assert.equal(restored.evaluate(invite()).trace[0]!.result, 'disabled', 'switches survive a save and restore');
  });

  it('scoped rules run only for their workflow or their user', () => {
    const c = chain([
      { name: 'wf', scope: { workflow: 'ivr' }, actions: [{ respond: { status: 486 } }] },
      { name: 'user', scope: { user: 'sip:bob@*' }, actions: [{ respond: { status: 487 } }] },
    ]);
    const d = c.evaluate(invite());
    assert.equal(d.trace[0]!.result, 'out-of-scope');
    assert.equal(d.outcome.kind === 'respond' && d.outcome.status, 487);
    assert.equal(c.evaluate(invite(), { workflow: 'ivr' }).decidedBy, 'wf');
    assert.equal(c.evaluate(invite({ to: '<sip:eve@example.com>' })).outcome.kind, 'proxy');
  });

  it('a user is their address-of-record: URI parameters, sips:, escapes and the host\'s case do not make another user (scope.user, match.to, match.from, per-user switches)', () => {
    const c = chain([
      { name: 'moved', match: { to: 'sip:old-*@example.com' }, actions: [{ redirect: { status: 302, contacts: ['sip:new@example.com'] } }] },
      { name: 'ceo', match: { from: 'sip:ceo@example.com' }, actions: [{ respond: { status: 403 } }] },
      { name: 'bob-scope', scope: { user: 'sip:bob@example.com' }, actions: [{ respond: { status: 480 } }] },
    ]);
    for (const to of [
      '<sip:bob@example.com>',
      '<sip:bob@example.com;transport=tcp>',
      '<sip:bob@example.com;user=phone>',
      '"Bob" <sip:bob@example.com;maddr=10.0.0.1>',
      '<sip:bob@example.com;ttl=1;method=INVITE?Subject=x>',
      '<sips:bob@example.com>',
      '<SIP:bob@EXAMPLE.com>',
      '<sip:%62ob@example.com>',
      '<sip:bob:secret@example.com>',
    ]) {
      assert.equal(c.evaluate(invite({ to })).decidedBy, 'bob-scope', to);
    }
    for (const to of ['<sip:bobby@example.com>', '<sip:bob@example.com.evil>', '<sip:bob@example.com:5070>', '<sip:bob%40x@example.com>']) {
      assert.equal(c.evaluate(invite({ to })).decidedBy, null, to);
    }
    assert.equal(c.evaluate(invite({ to: '<sip:old-x@example.com;user=phone>' })).decidedBy, 'moved');
    assert.equal(c.evaluate(invite({ from: '<sip:ceo@example.com;user=phone>;tag=1', to: '<sip:eve@example.com>' })).decidedBy, 'ceo');
    // A pattern that names a parameter still sees the whole URI.
    const p = chain([{ name: 'phone', match: { to: '*;user=phone' }, actions: [{ respond: { status: 404 } }] }]);
    assert.equal(p.evaluate(invite({ to: '<sip:+1555@example.com;user=phone>' })).decidedBy, 'phone');
    assert.equal(p.evaluate(invite({ to: '<sip:+1555@example.com>' })).decidedBy, null);

    const s = chain([{ name: 'rec', actions: [{ respond: { status: 486 } }] }]);
    s.setEnabled('rec', false, 'sip:bob@example.com');
    assert.equal(s.evaluate(invite({ to: '<sip:bob@example.com;transport=tcp>' })).trace[0]!.result, 'disabled');
    assert.equal(s.evaluate(invite({ to: '<sips:bob@Example.com;user=phone>' })).trace[0]!.result, 'disabled');
    s.setEnabled('rec', true, '<sip:bob@example.com;user=phone>');
    assert.deepEqual(s.getSwitches().perUser, { rec: { 'sip:bob@example.com': true } });
    s.setSwitches({ global: {}, perUser: { rec: { 'sip:bob@example.com;transport=tcp': false } } });
    assert.equal(s.evaluate(invite()).trace[0]!.result, 'disabled', 'a switch saved with parameters still applies');
  });

  it('match.requestUri names a user as match.to does: its address-of-record or the whole URI', () => {
    const c = chain([{ name: 'bob', match: { requestUri: 'sip:bob@example.com' }, actions: [{ respond: { status: 480 } }] }]);
    for (const uri of ['sip:bob@example.com', 'sip:bob@example.com;transport=tcp', 'sip:bob@example.com;user=phone', 'sips:bob@Example.com', 'sip:%62ob@example.com?Subject=x']) {
      assert.equal(c.evaluate(invite({ uri })).decidedBy, 'bob', uri);
    }
    for (const uri of ['sip:bobby@example.com', 'sip:bob@example.com:5070', 'sip:bob@example.com.evil']) {
      assert.equal(c.evaluate(invite({ uri })).decidedBy, null, uri);
    }
    // A pattern that names a parameter still sees the whole URI.
    const p = chain([{ name: 'tcp', match: { requestUri: '*;transport=tcp' }, actions: [{ respond: { status: 404 } }] }]);
    assert.equal(p.evaluate(invite({ uri: 'sip:bob@example.com;transport=tcp' })).decidedBy, 'tcp');
    assert.equal(p.evaluate(invite({ uri: 'sip:bob@example.com' })).decidedBy, null);
  });

  it('the default route replaces the Request-URI as proxy target when set', () => {
    const d = chain([], { defaultRoute: 'sip:sbc.example.com;lr' }).evaluate(invite());
    assert.deepEqual(d.outcome.kind === 'proxy' && d.outcome.targets, ['sip:sbc.example.com;lr']);
  });

  it('duplicate rule names are refused', () => {
    assert.throws(() => chain([{ name: 'a', actions: [{ app: 'x' }] }, { name: 'a', actions: [{ app: 'y' }] }]), /routing\.rules\.1\.name: duplicate/);
  });
});

describe('routing config', () => {
  it('a valid chain loads', () => {
    const c = parseConfig(`
routing:
  proxyByDefault: false
  rules:
    - name: strip
      match: { headers: { Ms-Target-Class: { present: true } } }
      actions: [{ headers: { remove: [Ms-Target-Class] } }]
    - name: gw
      match: { method: INVITE, media: [audio] }
      actions: [{ app: record-notice }]
flows:
  record-notice: [answer]
`);
    assert.equal(c.routing.rules.length, 2);
    assert.equal(c.routing.loopMarker.header, 'X-Parley-Leg');
  });

  const bad = (yaml: string, re: RegExp) => assert.throws(() => parseConfig(yaml), re);
  it('an unknown action names the rule and the action', () =>
    bad('routing:\n  rules: [{ name: a, actions: [{ forward: x }] }]\n', /routing\.rules\.0\.actions\.0: must be one of \{ proxy \}/));
  it('a redirect with a non-3xx status is refused', () =>
    bad('routing:\n  rules: [{ name: a, actions: [{ redirect: { status: 200, contacts: [sip:x@y] } }] }]\n', /routing\.rules\.0\.actions\.0/));
  it('an unknown match key is named', () =>
    bad('routing:\n  rules: [{ name: a, match: { too: x }, actions: [{ app: x }] }]\nflows: { x: [answer] }\n', /routing\.rules\.0\.match\.too: unknown key/));
  it('a bad regex is named', () =>
    bad('routing:\n  rules: [{ name: a, match: { to: "/(/" }, actions: [{ app: x }] }]\n', /routing\.rules\.0\.match: bad regex/));
  it('a bad CIDR is named', () =>
    bad('routing:\n  rules: [{ name: a, match: { source: 10.0.0.0/40 }, actions: [{ app: x }] }]\n', /routing\.rules\.0\.match: bad prefix length/));
  it('a rule without actions is refused', () =>
    bad('routing:\n  rules: [{ name: a, actions: [] }]\n', /routing\.rules\.0\.actions: must NOT have fewer than 1 items/));
});

describe('routing table reload', () => {
  it('swaps the chain and flows and keeps the switches of rules that still exist', async () => {
    const { RoutingTable } = await import('../../../src/policy/routing-table.ts');
    const base = { proxyByDefault: true, declineStatus: 403, defaultRoute: null, loopMarker: { header: 'X-Parley-Leg', value: 'b2b' } };
    const t = new RoutingTable({ ...base, rules: [{ name: 'a', actions: [{ app: 'f' }] }, { name: 'b', actions: [{ app: 'f' }] }] }, { f: [{ answer: null }] });
    t.chain.setEnabled('a', false);
    t.chain.setEnabled('b', false, 'sip:bob@example.com');
    const before = t.chain;
    t.replace({ ...base, rules: [{ name: 'a', actions: [{ app: 'g' }] }] }, { g: [{ hangup: null }] });
    assert.notEqual(t.chain, before);
    assert.equal(t.generation, 2);
    assert.deepEqual(t.chain.getSwitches(), { global: { a: false }, perUser: {} });
    assert.deepEqual(Object.keys(t.flows), ['g']);
    assert.equal(before.evaluate(invite()).trace[0]!.result, 'disabled', 'the old chain object is untouched');
  });
});
