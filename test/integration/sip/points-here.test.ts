// EmbeddedSipServer.pointsHere: whether a request to a URI would come back to this very server
// (a transfer's Refer-To naming Parley by another of its addresses or by a name). Real listeners:
// UDP on the wildcard address and TCP on 127.0.0.2, sip.externalIp set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig, type SipConfig } from '../../../src/config/schema.ts';
import { EmbeddedSipServer } from '../../../src/sip/embedded-server.ts';
import { freePort } from '../../helpers/free-port.ts';
import { testLogger } from '../../helpers/sip-harness.ts';

describe('EmbeddedSipServer.pointsHere', () => {
  let server: EmbeddedSipServer;
  let udp: number;
  let tcp: number;
  before(async () => {
    udp = await freePort();
    tcp = await freePort();
    const sip: SipConfig = {
      ...defaultConfig.sip,
      listen: [
        { transport: 'udp', host: '0.0.0.0', port: udp },
        { transport: 'tcp', host: '127.0.0.2', port: tcp },
      ],
      control: { host: '127.0.0.1', port: 0, secret: 's3cret' },
      externalIp: '203.0.113.7',
    };
    server = await EmbeddedSipServer.start({ sip, log: testLogger() });
  });
  after(() => server.close());

  it('an address of this machine on the wildcard listener\'s port, by number or by name: here', async () => {
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.1:${udp}`), true);
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.5:${udp}`), true, 'any loopback address reaches 0.0.0.0');
    assert.equal(await server.pointsHere(`sip:menu@localhost:${udp}`), true, 'a name that resolves here');
    assert.equal(await server.pointsHere(`sip:menu@LocalHost:${udp}`), true, 'names are case-insensitive');
  });

  it('sip.externalIp with a listener\'s port: here', async () => {
    assert.equal(await server.pointsHere(`sip:menu@203.0.113.7:${udp}`), true);
    assert.equal(await server.pointsHere(`sip:menu@203.0.113.7:${tcp};transport=tcp`), true);
  });

  it('a listener bound to one address: here only at that address, over its transport', async () => {
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.2:${tcp};transport=tcp`), true);
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.3:${tcp};transport=tcp`), false, 'another address');
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.2:${tcp}`), false, 'UDP to the TCP listener\'s port');
  });

  it('another port, another host, a name that does not resolve, a tel: URI: not here', async () => {
    assert.equal(await server.pointsHere(`sip:menu@127.0.0.1:${udp + 1 === tcp ? udp + 2 : udp + 1}`), false);
    assert.equal(await server.pointsHere(`sip:menu@192.0.2.1:${udp}`), false);
    assert.equal(await server.pointsHere(`sip:menu@parley.invalid:${udp}`), false);
    assert.equal(await server.pointsHere('tel:+15551234567'), false);
    assert.equal(await server.pointsHere('not a uri'), false);
  });
});
