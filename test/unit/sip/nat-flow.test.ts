import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPrivateAddress, natFlow } from '../../../src/sip/dialog/nat-flow.ts';
import type { Endpoint } from '../../../src/sip/transport/transport-types.ts';

const from = (address: string, port = 40123, transport: Endpoint['transport'] = 'udp'): Endpoint => ({ transport, address, port });

describe('nat-flow', () => {
  it('knows the addresses a NAT hides (RFC 1918, RFC 6598, link-local, IPv6 ULA and link-local)', () => {
    for (const a of ['10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.1', '192.168.1.20', '100.64.0.1', '100.127.255.254', '169.254.3.4', 'fd12:3456::1', 'fc00::1', 'fe80::1']) assert.equal(isPrivateAddress(a), true, a);
    for (const a of ['172.15.0.1', '172.32.0.1', '100.63.255.255', '100.128.0.1', '192.169.0.1', '8.8.8.8', '127.0.0.1', '::1', '2001:db8::1', 'phone.example.com']) assert.equal(isPrivateAddress(a), false, a);
  });

  it('auto: a private Contact whose INVITE came over UDP from a public address, with no route set, is sent to at that source', () => {
    assert.deepEqual(natFlow('auto', 'sip:alice@192.168.1.20:5062', true, from('203.0.113.9')), from('203.0.113.9'));
    assert.deepEqual(natFlow('auto', 'sip:alice@10.1.2.3;transport=udp', true, from('198.51.100.7', 1024)), from('198.51.100.7', 1024));
  });

  it('auto leaves the Contact alone otherwise: public or named Contact, private or loopback source, a route set, TCP, TLS, sips', () => {
    assert.equal(natFlow('auto', 'sip:alice@198.51.100.20:5060', true, from('203.0.113.9')), null, 'a public Contact');
    assert.equal(natFlow('auto', 'sip:alice@phone.example.com', true, from('203.0.113.9')), null, 'a name');
    assert.equal(natFlow('auto', 'sip:alice@192.168.1.20', true, from('192.168.1.1')), null, 'both private: the same network');
    assert.equal(natFlow('auto', 'sip:alice@192.168.1.20', true, from('127.0.0.1')), null, 'loopback source');
    assert.equal(natFlow('auto', 'sip:alice@192.168.1.20', false, from('203.0.113.9')), null, 'a route set: proxies handle it');
    assert.equal(natFlow('auto', 'sip:alice@192.168.1.20', true, from('203.0.113.9', 5060, 'tcp')), null, 'TCP reuses its connection');
    assert.equal(natFlow('auto', 'sip:alice@192.168.1.20;transport=tcp', true, from('203.0.113.9')), null, 'a Contact over TCP');
    assert.equal(natFlow('auto', 'sips:alice@192.168.1.20', true, from('203.0.113.9')), null, 'sips');
    assert.equal(natFlow('auto', 'not a uri', true, from('203.0.113.9')), null, 'unparseable');
  });

  it('always: any Contact other than the source address and port; never: none', () => {
    assert.deepEqual(natFlow('always', 'sip:alice@127.0.0.1:9', true, from('127.0.0.1', 40000)), from('127.0.0.1', 40000));
    assert.equal(natFlow('always', 'sip:alice@127.0.0.1:40000', true, from('127.0.0.1', 40000)), null, 'the Contact is the source');
    assert.equal(natFlow('always', 'sip:alice@127.0.0.1', true, from('127.0.0.1', 5060)), null, 'default port 5060');
    assert.equal(natFlow('never', 'sip:alice@192.168.1.20', true, from('203.0.113.9')), null);
  });
});
