// Where a From/To value's header parameters begin (headerParamsAt), and the tag taken out of
// them (withoutTag, the header-edit relay's new leg; parseNameAddr's params): a `>` inside a
// quoted display name or a quoted parameter value is not the end of the URI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNameAddr } from '../../../src/call/name-addr.ts';
import { withoutTag } from '../../../src/policy/routable-request.ts';
import { headerParamsAt } from '../../../src/sip/message/header-values.ts';

describe('header parameters of a name-addr', () => {
  it('begin after the > that closes the URI, or at the first ; of a bare URI', () => {
    const v = '"A" <sip:a@b;transport=tcp>;tag=1';
    assert.equal(v.slice(headerParamsAt(v)), ';tag=1');
    assert.equal(headerParamsAt('sip:a@b'), 'sip:a@b'.length);
    assert.equal('sip:a@b;tag=9'.slice(headerParamsAt('sip:a@b;tag=9')), ';tag=9');
    const quoted = '"x>y" <sip:a@b>;tag=2';
    assert.equal(quoted.slice(headerParamsAt(quoted)), ';tag=2');
    const late = '<sip:a@b>;tag=3;note="a>b"';
    assert.equal(late.slice(headerParamsAt(late)), ';tag=3;note="a>b"');
  });

  it('lose their tag and keep the rest; the URI keeps its own parameters', () => {
    assert.equal(withoutTag('"A" <sip:a@b;tag=uri-param>;tag=1;x=2'), '"A" <sip:a@b;tag=uri-param>;x=2');
    assert.equal(withoutTag('<sip:a@b>;tag=3;note="a>b"'), '<sip:a@b>;note="a>b"');
    assert.equal(withoutTag('"say >" <sip:a@b> ; TAG = z9'), '"say >" <sip:a@b> ');
    assert.equal(withoutTag('sip:a@b;tag=9;x=1'), 'sip:a@b;x=1');
    assert.equal(withoutTag('<sip:a@b>'), '<sip:a@b>');
  });

  it('parseNameAddr reads them past a quoted >', () => {
    const n = parseNameAddr('"A>B" <sip:a@b>;tag=3;x=1;note="a>b"');
    assert.equal(n.uri, 'sip:a@b');
    assert.equal(n.displayName, 'A>B');
    assert.deepEqual(Object.keys(n.params), ['x', 'note'], 'every header parameter but the tag');
  });
});
