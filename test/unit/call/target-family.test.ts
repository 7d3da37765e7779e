import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressFamily, uriFamily } from '../../../src/call/target-family.ts';

describe('the address family of a SIP target', () => {
  it('reads an IP literal in a SIP URI; a host name says nothing', () => {
    assert.equal(uriFamily('sip:bob@[::1]:5080'), 6);
    assert.equal(uriFamily('sips:[2001:db8::7];transport=tls'), 6);
    assert.equal(uriFamily('<sip:bob@[2001:DB8::7]>'), 6);
    assert.equal(uriFamily('sip:bob@127.0.0.1:5060;transport=udp'), 4);
    assert.equal(uriFamily('sip:10.1.2.3'), 4);
    assert.equal(uriFamily('sip:bob@pbx.example.com'), null);
    assert.equal(uriFamily('sip:bob@[nope]'), null);
    assert.equal(uriFamily('tel:+15551234'), null);
  });

  it('reads a transport source, bracketed or not', () => {
    assert.equal(addressFamily('::1'), 6);
    assert.equal(addressFamily('[::1]'), 6);
    assert.equal(addressFamily('192.0.2.1'), 4);
    assert.equal(addressFamily(undefined), null);
    assert.equal(addressFamily('example.com'), null);
  });
});
