import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { srsContact } from '../../../src/siprec/srs-contact.ts';

describe('srsContact (RFC 7866 §6.1.1)', () => {
  it('the address the INVITE came to, its transport and +sip.srs', () => {
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5060', protocol: 'udp', requestUri: 'sip:srs@example.com' }), '<sip:srs@10.0.0.5:5060>;+sip.srs');
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5080', protocol: 'tcp', requestUri: 'sip:srs@10.0.0.5:5080' }), '<sip:srs@10.0.0.5:5080;transport=tcp>;+sip.srs');
    assert.equal(srsContact({ receivedOn: '::1:5060', protocol: 'udp', requestUri: 'sip:srs@[::1]' }), '<sip:srs@[::1]:5060>;+sip.srs');
  });

  it('sip.externalIp replaces the address, the port stays the one the INVITE came to', () => {
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5080', protocol: 'tcp', requestUri: 'sip:srs@203.0.113.9:5080', externalIp: '203.0.113.9' }), '<sip:srs@203.0.113.9:5080;transport=tcp>;+sip.srs');
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5060', protocol: 'udp', requestUri: 'sip:srs@x', externalIp: '2001:db8::1' }), '<sip:srs@[2001:db8::1]:5060>;+sip.srs');
  });

  it('a SIPS Request-URI over TLS gets a SIPS Contact', () => {
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5061', protocol: 'tls', requestUri: 'sips:srs@rec.example.com' }), '<sips:srs@10.0.0.5:5061>;+sip.srs');
    assert.equal(srsContact({ receivedOn: '10.0.0.5:5061', protocol: 'tls', requestUri: 'sip:srs@rec.example.com' }), '<sip:srs@10.0.0.5:5061;transport=tls>;+sip.srs');
  });

  it('a wildcard or missing receivedOn falls back to the Request-URI; none at all: null', () => {
    assert.equal(srsContact({ receivedOn: '0.0.0.0:5060', protocol: 'udp', requestUri: 'sip:srs@192.0.2.7:5070;transport=udp' }), '<sip:srs@192.0.2.7:5070>;+sip.srs');
    assert.equal(srsContact({ protocol: 'tcp', requestUri: 'sip:rec.example.com' }), '<sip:srs@rec.example.com;transport=tcp>;+sip.srs');
    assert.equal(srsContact({ receivedOn: '0.0.0.0:5060', requestUri: 'sip:srs@0.0.0.0' }), null);
    assert.equal(srsContact({ receivedOn: '0.0.0.0:5060', requestUri: 'sip:rec;tenant=a@192.0.2.7:5070' }), '<sip:srs@192.0.2.7:5070>;+sip.srs', 'the host after a user part holding ;');
    assert.equal(srsContact({ receivedOn: '0.0.0.0:5060', requestUri: 'sip:srs@[2001:db8::5]:5070' }), '<sip:srs@[2001:db8::5]:5070>;+sip.srs');
  });
});
