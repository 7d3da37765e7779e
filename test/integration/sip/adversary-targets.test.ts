// Request targets a caller controls (the original To a B leg goes to) that the kernel or
// Node refuses: the broadcast address (connect() fails with EACCES; the reachability probe
// ignored the error its callback got and sent on an unconnected socket, and the throw took
// the whole process down: one INVITE to sip:bob@255.255.255.255 stopped Parley), and port 0
// (dgram's send throws). Each must end the app's request with an error response instead.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

async function failure(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { status?: number }).status;
  }
  throw new Error('the request did not fail');
}

describe('adversary: targets the kernel refuses', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
  });
  after(() => h.close());

  for (const target of ['sip:bob@255.255.255.255', 'sip:bob@127.0.0.1:0', 'sip:bob@0.0.0.0:5999']) {
    it(`an INVITE to ${target} fails with an error response, and the server keeps serving`, async () => {
      const status = await failure(h.srf.createUAC(target, { localSdp: SDP }));
      assert.ok(status !== undefined && status >= 400, `status ${status}`);
      const ua = await RawSipClient.open();
      try {
        ua.send(h.server.sipPort('udp'), request('OPTIONS', ua.port).text);
        assert.match((await ua.nextMatching(/^SIP\/2\.0 [2-6]/)).split('\r\n')[0], /^SIP\/2\.0 200 /);
      } finally {
        ua.close();
      }
    });
  }
});
