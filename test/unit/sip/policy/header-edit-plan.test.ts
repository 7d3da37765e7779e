// Which header edits a proxy can carry (drachtio-server's proxy only adds headers) and
// the headers of a B2BUA leg that carries the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyHeadersFor, rewrittenHeaders } from '../../../../src/policy/header-edit-plan.ts';
import type { HeaderEdit } from '../../../../src/policy/rule-types.ts';

const has = (names: string[]) => (n: string): boolean => names.some((x) => x.toLowerCase() === n.toLowerCase());

describe('header edit plan', () => {
  it('adds, and a set of an absent header, go with the proxy; repeated adds join with commas', () => {
    const edits: HeaderEdit[] = [
      { op: 'add', name: 'X-Seen-By', value: 'parley' },
      { op: 'add', name: 'x-seen-by', value: 'again' },
      { op: 'set', name: 'X-Absent', value: 'yes' },
      { op: 'remove', name: 'X-Not-There' },
    ];
    assert.deepEqual(proxyHeadersFor(edits, has(['X-Seen-By'])), { 'X-Seen-By': 'parley,again', 'X-Absent': 'yes' });
  });

  it('a remove or set of a header the request has (any case) cannot go with a proxy', () => {
    assert.equal(proxyHeadersFor([{ op: 'remove', name: 'ms-target-class' }], has(['Ms-Target-Class'])), null);
    assert.equal(proxyHeadersFor([{ op: 'set', name: 'X-Route', value: 'b' }], has(['X-Route'])), null);
    // set after an add of the same header in an earlier rule would need a rewrite too
    assert.equal(proxyHeadersFor([{ op: 'add', name: 'X-A', value: '1' }, { op: 'remove', name: 'X-A' }], has([])), null);
  });

  it('the B2BUA leg keeps end-to-end headers, drops hop ones, lowers Max-Forwards, applies edits in order', () => {
    const out = rewrittenHeaders(
      { via: 'SIP/2.0/UDP a', from: '<sip:a@b>;tag=1', 'max-forwards': '12', supported: 'timer', 'Ms-Target-Class': 'secondary', 'ms-sensitivity': 'private', 'X-Route': 'a', 'X-Keep': 'yes', 'X-Seen-By': 'up' },
      [
        { op: 'remove', name: 'Ms-Target-Class' },
        { op: 'remove', name: 'Ms-Sensitivity' },
        { op: 'set', name: 'X-Route', value: 'b' },
        { op: 'add', name: 'X-Seen-By', value: 'parley' },
        { op: 'add', name: 'X-New', value: '1' },
      ],
    );
    assert.deepEqual(out, { 'X-Keep': 'yes', 'X-Seen-By': 'up,parley', 'Max-Forwards': '11', 'X-Route': 'b', 'X-New': '1' });
  });

  it('a header sent twice in two spellings is one header: a remove takes both, a set replaces both', () => {
    const out = rewrittenHeaders(
      { 'P-Asserted-Identity': '<sip:ok@x>', 'P-ASSERTED-IDENTITY': '"CEO" <sip:ceo@bank.example>', 'X-Secret': 'a', 'x-secret': 'b', 'X-Two': '1', 'x-TWO': '2' },
      [
        { op: 'remove', name: 'p-asserted-identity' },
        { op: 'set', name: 'X-Secret', value: 'mine' },
      ],
    );
    assert.deepEqual(out, { 'X-Secret': 'mine', 'X-Two': '1,2', 'Max-Forwards': '69' });
  });

  it('a request without Max-Forwards gets 69; a bad one 69 too', () => {
    assert.equal(rewrittenHeaders({}, [])['Max-Forwards'], '69');
    assert.equal(rewrittenHeaders({ 'Max-Forwards': 'x' }, [])['Max-Forwards'], '69');
  });
});
