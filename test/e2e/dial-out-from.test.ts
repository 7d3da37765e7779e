// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// POST /rooms/:name/dial names the room `sip:<room>@<host:port>` in From, where host:port is
// the SIP contact of the server Parley is connected to. In remote mode sip.listen is not where
// the server listens (it stays at its 127.0.0.1:5060 default here): the server's own
// announcement on connect is. An embedded server on a free port stands in for a drachtio-server.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/schema.ts';
import { EmbeddedSipServer } from '../../src/sip/embedded-server.ts';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { freePort } from '../helpers/free-port.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { testLogger } from '../helpers/sip-harness.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { received, sippOk, startCallee } from './helpers.ts';
import { replyTo, responseTo } from './raw-dialog.ts';

describe('dial-out From in remote mode', () => {
  let server: EmbeddedSipServer;
  let parley: RunningParley;
  let sipPort: number;

  before(async () => {
    sipPort = await freePort();
    server = await EmbeddedSipServer.start({
      sip: {
        ...defaultConfig.sip,
        listen: [{ transport: 'udp', host: '127.0.0.1', port: sipPort }, { transport: 'tcp', host: '127.0.0.1', port: sipPort }],
        control: { host: '127.0.0.1', port: 0, secret: 'remote-secret' },
      },
      log: testLogger(),
    });
    const state = join(mkdtempSync(join(tmpdir(), 'parley-dial-from-')), 'rules.json');
    parley = await startParley(apiYaml(state), { sipPort, remote: { controlPort: server.controlPort, secret: 'remote-secret' } });
  });
  after(async () => {
    await parley?.stop();
    server?.close();
  });

  it("From carries the connected server's SIP port, not sip.listen's; Max-Forwards is 70", async () => {
    assert.equal(parley.config.sip.listen[0]?.port, 5060, 'sip.listen is left at its default');
    const callee = await startCallee('callee.xml', 440);
    try {
      const base = apiBase(parley);
      const r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:alice@127.0.0.1:${callee.port}` });
      assert.equal(r.status, 201, r.text);
      assert.equal((await call(base, 'DELETE', '/rooms/standup')).status, 200);
      const run = await callee.done;
      sippOk(run, 'callee');
      const invite = received(run).find((m) => /^INVITE /m.test(m)) ?? '';
      assert.match(invite, new RegExp(`^From: <sip:standup@127\\.0\\.0\\.1:${sipPort}>;tag=`, 'm'));
      // RFC 3261 §8.1.1.6: a request no incoming request caused starts at 70.
      assert.match(invite, /^Max-Forwards: 70\r?$/m);
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });

  it('an impersonating leg: From is the `as` URI with its display name, quoted (RFC 3261 §25.1: `"` and `\\` escaped)', async () => {
    const ua = await RawSipClient.open();
    try {
      const base = apiBase(parley);
      const dialled = call(base, 'POST', '/rooms/board/dial', { to: `sip:bob@127.0.0.1:${ua.port}`, identity: 'impersonate', as: { uri: 'sip:ceo@example.com', displayName: 'The "Big" CEO \\ Inc' } });
      const invite = await ua.nextMatching(/^INVITE /, 10_000);
      replyTo(ua, invite, responseTo(invite, '486 Busy Here', 'bob1'));
      await ua.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
      assert.equal((await dialled).status, 502);
      assert.match(header(invite, 'From'), /^"The \\"Big\\" CEO \\\\ Inc" <sip:ceo@example\.com>;tag=\S+$/);
    } finally {
      ua.close();
    }
  });
});
