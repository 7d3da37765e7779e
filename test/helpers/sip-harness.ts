// Starts the embedded SIP server on loopback with free ports and a drachtio-srf app connected
// to it through connectSrf (as a `remote` server, so both paths of connectSrf get exercised).
import type Srf from 'drachtio-srf';
import { defaultConfig, type SipConfig } from '../../src/config/schema.ts';
import { connectSrf } from '../../src/signaling/srf-connection.ts';
import { EmbeddedSipServer } from '../../src/sip/embedded-server.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';

export interface Harness {
  server: EmbeddedSipServer;
  srf: Srf;
  log: Logger;
  /** host:port of the SIP listener for that transport. */
  target(transport: 'udp' | 'tcp' | 'tls'): string;
  close(): void;
}

export const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

export function testLogger(): Logger {
  return createLogger({ level: process.env.SIP_TEST_LOG ?? 'silent', pretty: false });
}

/** `log`: where the server and app log (a capturing logger for tests that check log lines). */
export async function startHarness(overrides: Partial<SipConfig> = {}, log: Logger = testLogger()): Promise<Harness> {
  const sip: SipConfig = {
    ...defaultConfig.sip,
    listen: [
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    control: { host: '127.0.0.1', port: 0, secret: 'test-secret' },
    ...overrides,
  };
  // UDP and TCP listeners share one port number so Contact/Via ports work for either.
  const server = await startSharedPort(sip, log);
  const conn = await connectSrf({ sip: { ...sip, server: 'remote', control: { ...sip.control, port: server.controlPort } }, log });
  return {
    server,
    srf: conn.srf,
    log,
    target: (t) => `127.0.0.1:${server.sipPort(t)}`,
    close: () => {
      conn.close();
      server.close();
    },
  };
}

async function startSharedPort(sip: SipConfig, log: Logger): Promise<EmbeddedSipServer> {
  for (let attempt = 0; ; attempt++) {
    const probe = await EmbeddedSipServer.start({ sip: { ...sip, listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] }, log });
    const port = probe.sipPort('udp');
    probe.close();
    try {
      return await EmbeddedSipServer.start({
        sip: { ...sip, listen: sip.listen.map((l) => ({ ...l, port: l.port === 0 ? port : l.port })) },
        log,
      });
    } catch (err) {
      if (attempt > 5) throw err;
    }
  }
}
