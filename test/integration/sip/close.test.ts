// EmbeddedSipServer.close(): synchronous and idempotent; it clears every transaction timer
// and releases its sockets, whatever is in flight (see src/sip/CLOSURES.md).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { EmbeddedSipServer } from '../../../src/sip/embedded-server.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { testLogger } from '../../helpers/sip-harness.ts';

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('EmbeddedSipServer.close', () => {
  it('ends in-flight transactions, clears their timers and frees its ports', async () => {
    const baseline = timeouts();
    const server = await EmbeddedSipServer.start({
      sip: { ...defaultConfig.sip, listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], control: { host: '127.0.0.1', port: 0, secret: 'x' } },
      log: testLogger(),
    });
    const port = server.sipPort('udp');
    const c = await RawSipClient.open();
    // No app is connected: each INVITE gets a 503, whose transaction keeps timers G and H running.
    for (let i = 0; i < 5; i++) c.send(port, request('INVITE', c.port).text);
    for (let i = 0; i < 5; i++) await c.nextMatching(/^SIP\/2\.0 503/);
    assert.equal(server.stats.serverTransactions, 5);
    assert.ok(timeouts() >= baseline + 5, 'retransmission timers are running');
    server.close();
    server.close();
    assert.equal(server.stats.serverTransactions, 0);
    assert.equal(timeouts(), baseline, 'no timer outlives close()');
    c.close();
    // The port is free again at once.
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    s.close();
  });
});

describe('EmbeddedSipServer.start that cannot bind', () => {
  const sip = (listen: typeof defaultConfig.sip.listen, controlPort = 0) => ({ ...defaultConfig.sip, listen, control: { host: '127.0.0.1', port: controlPort, secret: 'x' } });

  it('names the config key of the listener or control port it could not bind', async () => {
    // A host that is no address (a typo), and a port already taken: the error says which key.
    await assert.rejects(
      EmbeddedSipServer.start({ sip: sip([{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: 'not-an-ip.invalid', port: 0 }]), log: testLogger() }),
      /^Error: sip\.listen\.1: cannot listen on tcp not-an-ip\.invalid:0: /,
    );
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', () => resolve()));
    const port = taken.address().port;
    await assert.rejects(
      EmbeddedSipServer.start({ sip: sip([{ transport: 'udp', host: '127.0.0.1', port }]), log: testLogger() }),
      (err: Error & { code?: string }) => err.message.startsWith(`sip.listen.0: cannot listen on udp 127.0.0.1:${port}: `) && err.code === 'EADDRINUSE',
    );
    taken.close();
    const first = await EmbeddedSipServer.start({ sip: sip([{ transport: 'udp', host: '127.0.0.1', port: 0 }]), log: testLogger() });
    try {
      const controlPort = first.controlPort;
      await assert.rejects(
        EmbeddedSipServer.start({ sip: sip([{ transport: 'udp', host: '127.0.0.1', port: 0 }], controlPort), log: testLogger() }),
        new RegExp(`^Error: sip\\.control: cannot listen on tcp 127\\.0\\.0\\.1:${controlPort}: .*EADDRINUSE`),
      );
    } finally {
      first.close();
    }
  });
});
