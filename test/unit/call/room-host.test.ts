// The room's own URI host:port comes from the server's announced contacts (drachtio hostports).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roomHost } from '../../../src/call/conference/dial-out.ts';

describe('roomHost', () => {
  it('takes the UDP contact first', () => assert.equal(roomHost('tcp/10.0.0.5:5070,udp/10.0.0.5:5071', null), '10.0.0.5:5071'));
  it('else TCP, else TLS', () => {
    assert.equal(roomHost('tls/10.0.0.5:5061,tcp/10.0.0.5:5060', null), '10.0.0.5:5060');
    assert.equal(roomHost('tls/10.0.0.5:5061', null), '10.0.0.5:5061');
  });
  it('keeps an IPv6 address bracketed', () => assert.equal(roomHost('udp/[::1]:5080', null), '[::1]:5080'));
  it('externalIp replaces the address, not the port', () => assert.equal(roomHost('udp/10.0.0.5:5070', '203.0.113.9'), '203.0.113.9:5070'));
  it('nothing announced: loopback', () => assert.equal(roomHost('', null), '127.0.0.1'));
});
