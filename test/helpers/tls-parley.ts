// Parley with a TLS listener for the tests of real TLS peers (baresip, SIPREC over TLS): a
// fresh test PKI and a free TLS port, started before a describe's tests and removed after them.
import { after, before } from 'node:test';
import { freePort } from './free-port.ts';
import { startParley, type ParleyOptions, type RunningParley } from './parley-harness.ts';
import { makeTestPki, type TestPki } from './tls-certs.ts';

export interface TlsParley {
  parley: RunningParley;
  pki: TestPki;
  tlsPort: number;
}

/** The function it returns gives the running Parley, its PKI and TLS port inside a test. */
export function tlsParleyPerSuite(yaml: string, opts: ParleyOptions = {}): () => TlsParley {
  let running: TlsParley | undefined;
  let pki: TestPki | undefined;
  let parley: RunningParley | undefined;
  before(async () => {
    pki = await makeTestPki();
    const tlsPort = await freePort();
    parley = await startParley(yaml, { ...opts, tls: { port: tlsPort, cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.caFile } });
    running = { parley, pki, tlsPort };
  });
  after(async () => {
    await parley?.stop();
    await pki?.remove();
  });
  return () => {
    if (!running) throw new Error('Parley with TLS did not start');
    return running;
  };
}
