// A respond rule's reason and headers are checked at load, naming the key, as header edits
// are: CR or LF would write headers of their own into the response, a name that is no token
// makes a response the server cannot send, and the headers the server writes are its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const rule = (respond: string): string => `routing:\n  rules:\n    - name: a\n      match: { method: OPTIONS }\n      actions: [{ respond: ${respond} }]\n`;
const bad = (respond: string, re: RegExp) => assert.throws(() => parseConfig(rule(respond)), re);
const good = (respond: string) => assert.doesNotThrow(() => parseConfig(rule(respond)));

describe('respond rules checked at load', () => {
  it('a reason phrase with CR, LF or another control character is refused', () => {
    bad('{ status: 486, reason: "Busy\\r\\nX-Injected: yes" }', /routing\.rules\.0\.actions\.0\.respond\.reason: a reason phrase may not hold CR, LF/);
    bad('{ status: 486, reason: "Busy\\u0007" }', /respond\.reason: /);
    good('{ status: 486, reason: "Busy Here\\tnow, ça sonne" }');
  });

  it('a header value with CR or LF, or a name that is no token, is refused', () => {
    bad('{ status: 486, headers: { X-A: "a\\r\\nX-Injected2: yes" } }', /respond\.headers\.X-A: a header value may not hold CR, LF/);
    bad('{ status: 486, headers: { "Bad Name": x } }', /respond\.headers\.Bad Name: 'Bad Name' is not a header name/);
  });

  it('the headers the server writes cannot be given', () => {
    bad('{ status: 486, headers: { Via: "SIP/2.0/UDP 6.6.6.6" } }', /respond\.headers\.Via: Via cannot be written by a respond rule/);
    bad('{ status: 486, headers: { To: "<sip:x@y>;tag=1" } }', /respond\.headers\.To: To cannot be written/);
    bad('{ status: 486, headers: { l: "9" } }', /respond\.headers\.l: l cannot be written/);
  });

  it('a 3xx without a Contact is refused; one with a Contact loads', () => {
    bad('{ status: 302 }', /routing\.rules\.0\.actions\.0\.respond\.status: a 302 redirects to its Contact and this one has none/);
    good('{ status: 302, headers: { Contact: "<sip:new@example.com>;q=0.5" } }');
  });

  it('redirect contacts: a name-addr with q and expires loads; a bad q-value or scheme is refused, naming the key', () => {
    const redirect = (contacts: string) => `routing:\n  rules:\n    - name: a\n      actions: [{ redirect: { contacts: ${contacts} } }]\n`;
    assert.doesNotThrow(() => parseConfig(redirect('["<sip:a@example.com>;q=0.5", "\\"B\\" <sip:b@example.com;transport=tcp>;q=1;expires=60", "sip:c@example.com;q=0.1", "tel:+15551234"]')));
    assert.throws(() => parseConfig(redirect('["sip:a@example.com", "<sip:b@example.com>;q=2"]')), /routing\.rules\.0\.actions\.0\.redirect\.contacts\.1: q=2 is not a q-value/);
    assert.throws(() => parseConfig(redirect('["<http://example.com>"]')), /redirect\.contacts\.0: .* must be a sip:, sips: or tel: URI/);
  });

  it('ordinary headers load', () => good('{ status: 503, reason: Overloaded, headers: { Retry-After: "30", Warning: "399 parley \\"later\\"" } }'));
});

describe('rule targets checked at load', () => {
  const cfg = (actions: string) => `routing:\n  rules:\n    - name: a\n      actions: ${actions}\n`;
  it('a retarget or proxy target whose port is not 1 to 65535 is refused, naming the key', () => {
    assert.throws(() => parseConfig(cfg('[{ retarget: "sip:a@127.0.0.1:99999" }, { proxy: null }]')), /routing\.rules\.0\.actions\.0\.retarget: 'sip:a@127\.0\.0\.1:99999': port 99999 is not a port/);
    assert.throws(() => parseConfig(cfg('[{ proxy: { targets: ["sip:a@b:5060", "sip:[::1]:0;transport=tcp"] } }]')), /routing\.rules\.0\.actions\.0\.proxy\.targets\.1: .*port 0 is not a port/);
    assert.doesNotThrow(() => parseConfig(cfg('[{ retarget: "sip:a@[::1]:5060;transport=tcp" }, { proxy: { targets: ["sips:b@example.com", "tel:+15551234"] } }]')));
  });
});
