import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressFamily, targetFamily, uriFamily } from '../../../src/call/target-family.ts';

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
    assert.equal(uriFamily('sip:+15551234;phone-context=ims.example@[2001:db8::9];user=phone'), 6, 'the host after the user part, whatever it holds');
    assert.equal(uriFamily('sip:bob@pbx.example.com;maddr=10.0.0.9'), 4, 'maddr');
  });

  it('reads a transport source, bracketed or not', () => {
    assert.equal(addressFamily('::1'), 6);
    assert.equal(addressFamily('[::1]'), 6);
    assert.equal(addressFamily('192.0.2.1'), 4);
    assert.equal(addressFamily(undefined), null);
    assert.equal(addressFamily('example.com'), null);
  });
});

describe('the address family of a target the INVITE goes straight to', () => {
  // The resolver is the only fake: what a DNS server or /etc/hosts would answer for these names.
  const names: Record<string, string> = { 'v6.example': '2001:db8::5', 'v4.example': '192.0.2.7', 'maddr6.example': '::1' };
  const lookups: string[] = [];
  const lookup = async (host: string): Promise<{ address: string }> => {
    lookups.push(host);
    const address = names[host];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return { address };
  };

  it('resolves a host name as the SIP server does: IPv6 when its first address is (the B leg then offers IPv6)', async () => {
    assert.equal(await targetFamily('sip:bob@v6.example:5070', false, lookup), 6);
    assert.equal(await targetFamily('<sip:bob@v4.example;transport=tcp>', false, lookup), 4);
    assert.equal(await targetFamily('sip:bob@v4.example;maddr=maddr6.example', false, lookup), 6, 'maddr is where the request goes');
    assert.equal(await targetFamily('sip:bob@nowhere.example', false, lookup), null, 'a name that does not resolve says nothing');
  });

  it('keeps IP literals without a lookup, and leaves a name to the outbound proxy', async () => {
    lookups.length = 0;
    assert.equal(await targetFamily('sip:bob@[::1]:5080', false, lookup), 6);
    assert.equal(await targetFamily('sip:bob@127.0.0.1', true, lookup), 4);
    assert.equal(await targetFamily('sip:bob@v6.example', true, lookup), null);
    assert.equal(await targetFamily('tel:+15551234', false, lookup), null);
    assert.deepEqual(lookups, []);
  });

  it('uses the system resolver by default: the answer dns.lookup gives', async () => {
    assert.equal(await targetFamily('sip:bob@127.0.0.1:5090', false), 4);
    const { lookup: real } = await import('node:dns/promises');
    const expected = addressFamily((await real('localhost')).address);
    assert.equal(await targetFamily('sip:bob@localhost:5090', false), expected);
  });
});
