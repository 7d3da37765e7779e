// Header edits that would break every request their rule takes (answered 500, sent out
// unparseable, or looping) are refused at load, naming the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const rule = (edit: string): string => `routing:\n  rules:\n    - name: a\n      actions: [{ headers: ${edit} }, { proxy: { targets: ["sip:x@127.0.0.1"] } }]\n`;
const bad = (edit: string, re: RegExp) => assert.throws(() => parseConfig(rule(edit)), re);
const good = (edit: string) => assert.doesNotThrow(() => parseConfig(rule(edit)));

describe('header edits checked at load', () => {
  it('the headers that frame the transaction, the dialog or the body cannot be edited', () => {
    bad('{ set: { Content-Length: "999" } }', /routing\.rules\.0\.actions\.0\.headers\.set\.Content-Length: Content-Length cannot be edited/);
    bad('{ set: { Via: garbage } }', /headers\.set\.Via: Via cannot be edited/);
    bad('{ remove: [X-Ok, Call-ID] }', /headers\.remove\.1: Call-ID cannot be edited/);
    bad('{ remove: [CSeq] }', /headers\.remove\.0: CSeq cannot be edited/);
    bad('{ set: { Max-Forwards: "70" } }', /headers\.set\.Max-Forwards: .*loops/);
    bad('{ set: { Content-Type: text/plain } }', /headers\.set\.Content-Type/);
    bad('{ add: { Contact: "<sip:x@y>" } }', /headers\.add\.Contact/);
    bad('{ remove: [i] }', /headers\.remove\.0: i cannot be edited/);
  });

  it('From and To can only be set, to a URI without a tag', () => {
    bad('{ set: { To: garbage } }', /headers\.set\.To: To must be a sip:, sips: or tel: URI/);
    bad('{ set: { From: "<sip:a@b>;tag=1" } }', /headers\.set\.From: From may not carry a tag/);
    bad('{ remove: [From] }', /headers\.remove\.0: From can only be set/);
    good('{ set: { From: "\\"Anonymous\\" <sip:anonymous@anonymous.invalid>" } }');
    good('{ set: { To: "sip:bob@example.com" } }');
  });

  it('a value with CR or LF, or a name that is no token, is refused', () => {
    bad('{ add: { X-Evil: "a\\r\\nVia: SIP/2.0/UDP 6.6.6.6" } }', /headers\.add\.X-Evil: a header value may not hold CR, LF/);
    bad('{ set: { "X Bad": "1" } }', /is not a header name/);
  });

  it('ordinary edits load', () => good('{ remove: [Ms-Target-Class, P-Asserted-Identity, Authorization], set: { Subject: hi }, add: { X-Seen-By: parley } }'));
});
