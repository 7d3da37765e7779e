import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Roster, RosterConflictError } from '../../../src/call/conference/roster.ts';

describe('conference roster', () => {
  it('is unique by URI; generated identities are hidden and may be many; impersonation shows the other URI', () => {
    const r = new Roster('demo');
    const events: string[] = [];
    r.on('join', (e) => events.push(`join ${e.identity} ${e.uri}`));
    r.on('leave', (e, why) => events.push(`leave ${e.uri} ${why}`));
    r.join({ legId: 'a', callId: 'c1', uri: 'sip:alice@example.com', displayName: 'Alice', identity: 'normal' });
    r.join({ legId: 'b', callId: 'c2', uri: 'sip:bob@example.com', identity: 'normal' });
    r.join({ legId: 'rec1', callId: 'c3', uri: 'sip:app@parley', identity: 'generated' });
    r.join({ legId: 'rec2', callId: 'c4', uri: 'sip:app@parley', identity: 'generated' });
    r.join({ legId: 'imp', callId: 'c5', uri: 'sip:app@parley', identity: 'impersonate', as: { uri: 'sip:carol@example.com', displayName: 'Carol' } });
    assert.deepEqual(r.visible.map((e) => e.uri), ['sip:alice@example.com', 'sip:bob@example.com', 'sip:carol@example.com']);
    assert.equal(r.size, 5);
    assert.equal(r.get('imp')!.actualUri, 'sip:app@parley');
    assert.notEqual(r.get('rec1')!.uri, r.get('rec2')!.uri, 'each generated identity is its own');
    assert.throws(
      () => r.join({ legId: 'a2', callId: 'c6', uri: 'SIP:alice@EXAMPLE.com;transport=tcp', identity: 'normal' }),
      (err: unknown) => err instanceof RosterConflictError && err.status === 486,
    );
    assert.throws(() => r.join({ legId: 'i2', callId: 'c7', uri: 'sip:x@y', identity: 'impersonate', as: { uri: 'sip:bob@example.com' } }), RosterConflictError);
    assert.throws(() => r.join({ legId: 'a4', callId: 'c9', uri: 'sip:%61lice@example.com', identity: 'normal' }), RosterConflictError, 'an escaped letter is that letter');
    r.leave('a', 'hung up');
    r.join({ legId: 'a3', callId: 'c8', uri: 'sip:alice@example.com', identity: 'normal' });
    assert.deepEqual(events.slice(-2), ['leave sip:alice@example.com hung up', 'join normal sip:alice@example.com']);
  });

  it('talking and mute events are told for visible legs only, once per change', () => {
    const r = new Roster('demo');
    const seen: string[] = [];
    r.on('talking', (e, t) => seen.push(`${e.legId} talking ${t}`));
    r.on('mute', (e, m) => seen.push(`${e.legId} muted ${m}`));
    r.join({ legId: 'a', callId: 'c1', uri: 'sip:a@x', identity: 'normal' });
    r.join({ legId: 'h', callId: 'c2', uri: 'sip:h@x', identity: 'generated' });
    r.setTalking('a', true);
    r.setTalking('a', true);
    r.setTalking('h', true);
    r.setMuted('a', true);
    r.setTalking('a', false);
    assert.deepEqual(seen, ['a talking true', 'a muted true', 'a talking false']);
  });
});
