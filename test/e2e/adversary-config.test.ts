// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Config values that pass the schema but cannot work on this machine stop start-up with
// the key named. media.rtpIp (or rtpIp6) that is no address of this machine started
// Parley fine, and every call then failed when its leg's RTP socket could not bind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startParley } from '../helpers/parley-harness.ts';

describe('adversary: addresses that are not this machine\'s', () => {
  it('media.rtpIp and media.rtpIp6 that cannot be bound stop start-up naming the key', async () => {
    // 192.0.2.1 and 2001:db8::1 are documentation addresses (RFC 5737, RFC 3849): never a local one.
    await assert.rejects(startParley('', { media: 'rtpIp: 192.0.2.1' }), /^Error: media\.rtpIp: cannot bind RTP to 192\.0\.2\.1: .*EADDRNOTAVAIL/);
    await assert.rejects(startParley('', { media: "rtpIp6: '2001:db8::1'" }), /^Error: media\.rtpIp6: cannot bind RTP to 2001:db8::1: .*EADDRNOTAVAIL/);
    // The addresses of the shipped config start.
    const p = await startParley('', { media: "rtpIp6: '::1'" });
    await p.stop();
  });
});
