// connectSrf: the embedded server on free ports, and a remote server reached by config alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, type SipConfig } from '../../../src/config/schema.ts';
import Srf from 'drachtio-srf';
import { allowGivenSocket } from '../../../src/signaling/local-wire.ts';
import { connectSrf } from '../../../src/signaling/srf-connection.ts';
import { EmbeddedSipServer } from '../../../src/sip/embedded-server.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { testLogger } from '../../helpers/sip-harness.ts';

const sip: SipConfig = {
  ...defaultConfig.sip,
  listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
  control: { host: '127.0.0.1', port: 0, secret: 's3cret' },
};

describe('connectSrf', () => {
  it('embedded: starts the server on free ports and the app answers SIP through it', async () => {
    const conn = await connectSrf({ sip, log: testLogger() });
    const m = /udp\/127\.0\.0\.1:(\d+)/.exec(conn.hostports);
    assert.ok(m, conn.hostports);
    // srf.options exists at run time; drachtio-srf's typings leave it out.
    const app = conn.srf as unknown as { options(h: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void };
    app.options((_req, res) => res.send(200, { headers: { 'X-App': 'parley' } }));
    const c = await RawSipClient.open();
    try {
      // route|options travels asynchronously: retry until the app, not the 503, answers.
      let res = '';
      for (let i = 0; i < 50 && !/^SIP\/2\.0 200/.test(res); i++) {
        c.send(Number(m[1]), request('OPTIONS', c.port).text);
        res = await c.next();
      }
      assert.match(res, /^SIP\/2\.0 200 OK/);
      assert.match(res, /X-App: parley/);
    } finally {
      c.close();
      conn.close();
      conn.close(); // idempotent
    }
  });

  it('gateUntilReady: an INVITE before ready() gets 503 with Retry-After (a proxy fails over), not drachtio-srf\'s 404; after it the app\'s handler', async () => {
    const conn = await connectSrf({ sip, log: testLogger(), gateUntilReady: true });
    const port = Number(/udp\/127\.0\.0\.1:(\d+)/.exec(conn.hostports)![1]);
    const c = await RawSipClient.open();
    try {
      c.send(port, request('INVITE', c.port).text);
      const early = await c.nextMatching(/^SIP\/2\.0 [3-6]\d\d /);
      assert.match(early, /^SIP\/2\.0 503 /);
      assert.match(early, /^Retry-After: 1\s*$/m);
      conn.srf.invite((_req, res) => res.send(486));
      conn.ready();
      c.send(port, request('INVITE', c.port).text);
      assert.match(await c.nextMatching(/^SIP\/2\.0 [3-6]\d\d /), /^SIP\/2\.0 486 /);
    } finally {
      c.close();
      conn.close();
    }
  });

  it('remote: connects to a server given by host, port and secret', async () => {
    const server = await EmbeddedSipServer.start({ sip, log: testLogger() });
    try {
      const conn = await connectSrf({ sip: { ...sip, server: 'remote', control: { ...sip.control, port: server.controlPort } }, log: testLogger() });
      assert.match(conn.hostports, /^udp\/127\.0\.0\.1:\d+$/);
      conn.close();
    } finally {
      server.close();
      server.close();
    }
  });

  it('remote: a wrong secret is refused', async () => {
    const server = await EmbeddedSipServer.start({ sip, log: testLogger() });
    try {
      await assert.rejects(
        connectSrf({ sip: { ...sip, server: 'remote', control: { ...sip.control, port: server.controlPort, secret: 'wrong' } }, log: testLogger(), connectTimeoutMs: 3000 }),
        /authenticate/,
      );
    } finally {
      server.close();
    }
  });

  it('an app that disconnects leaves no dialogs behind', async () => {
    const server = await EmbeddedSipServer.start({ sip, log: testLogger() });
    const conn = await connectSrf({ sip: { ...sip, server: 'remote', control: { ...sip.control, port: server.controlPort } }, log: testLogger() });
    conn.srf.invite((req, res) => {
      conn.srf.createUAS(req, res, { localSdp: 'v=0\r\n' }).catch(() => undefined);
    });
    const c = await RawSipClient.open();
    try {
      let res = '';
      for (let i = 0; i < 50 && !/^SIP\/2\.0 200/.test(res); i++) {
        c.send(server.sipPort('udp'), request('INVITE', c.port).text);
        res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
      }
      assert.match(res, /^SIP\/2\.0 200/);
      assert.equal(server.stats.dialogs, 1);
      conn.close();
      for (let i = 0; i < 10000 && server.stats.dialogs > 0; i++) await new Promise((r) => setImmediate(r));
      assert.equal(server.stats.dialogs, 0);
    } finally {
      c.close();
      server.close();
    }
  });

  it('in-process: an app on the embedded server\'s local link answers SIP, a wrong secret is refused, and its disconnect frees its routes and dialogs', async () => {
    const server = await EmbeddedSipServer.start({ sip, log: testLogger() });
    const c = await RawSipClient.open();
    allowGivenSocket();
    const connect = (secret: string): Promise<{ srf: Srf; hostports: string }> => new Promise((resolve, reject) => {
      const srf = new Srf();
      srf.on('error', () => undefined);
      srf.on('connect', (err: Error | null, hostports: string) => (err ? reject(err) : resolve({ srf, hostports })));
      void (srf.connect({ secret, socket: server.connectLocal() } as unknown as Srf.SrfConfig) as unknown);
      setTimeout(() => reject(new Error('no connect event')), 3000).unref();
    });
    try {
      await assert.rejects(connect('wrong'), /authenticate/);
      const { srf, hostports } = await connect(sip.control.secret);
      assert.equal(hostports, `udp/127.0.0.1:${server.sipPort('udp')}`);
      srf.invite((req, res) => {
        srf.createUAS(req, res, { localSdp: 'v=0\r\n' }).catch(() => undefined);
      });
      let res = '';
      for (let i = 0; i < 50 && !/^SIP\/2\.0 200/.test(res); i++) {
        c.send(server.sipPort('udp'), request('INVITE', c.port).text);
        res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
      }
      assert.match(res, /^SIP\/2\.0 200/);
      assert.equal(server.stats.dialogs, 1);
      assert.ok(server.routedVerbs.includes('invite'));
      srf.disconnect();
      for (let i = 0; i < 10000 && (server.stats.dialogs > 0 || server.routedVerbs.length > 0); i++) await new Promise((r) => setImmediate(r));
      assert.equal(server.stats.dialogs, 0);
      assert.deepEqual(server.routedVerbs, []);
    } finally {
      c.close();
      server.close();
    }
  });
});
