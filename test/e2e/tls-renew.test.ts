// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A renewed TLS certificate put in place of the files sip.listen names is used without a
// restart: the config reload (SIGHUP's path) makes the embedded server's TLS listener read
// its PEM files again. New connections get the new certificate, a connection opened before
// keeps working, and files that cannot be used leave the listener with the one it had.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { makeTestPki } from '../helpers/tls-certs.ts';
import { tlsParleyPerSuite } from '../helpers/tls-parley.ts';
import { waitFor } from '../helpers/wait.ts';

const yaml = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: hold }] }]
flows:
  hold: [answer, hangup]
`;

async function connect(port: number, ca: Buffer[]): Promise<tls.TLSSocket> {
  const s = tls.connect({ host: '127.0.0.1', port, ca });
  await once(s, 'secureConnect');
  return s;
}

async function fingerprintOf(port: number, ca: Buffer[]): Promise<string> {
  const s = await connect(port, ca);
  const fp = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return fp;
}

/** An OPTIONS over `s`; resolves with the response's status line. */
async function options(s: tls.TLSSocket, n: number): Promise<string> {
  const { localPort } = s;
  s.write([
    'OPTIONS sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/TLS 127.0.0.1:${localPort};branch=z9hG4bK-renew-${process.pid}-${n}`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=renew${n}`,
    'To: <sip:127.0.0.1>',
    `Call-ID: renew-${process.pid}-${n}@127.0.0.1`,
    `CSeq: ${n} OPTIONS`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'));
  const [chunk] = (await once(s, 'data')) as [Buffer];
  return chunk.toString().split('\r\n')[0]!;
}

describe('a renewed TLS certificate (config reload)', () => {
  const running = tlsParleyPerSuite(yaml);

  it('new connections get the renewed certificate, one open before goes on, unusable files change nothing', async () => {
    const { parley: p, pki, tlsPort } = running();
    const next = await makeTestPki();
    const old = await connect(tlsPort, [pki.ca]);
    try {
      const before = old.getPeerCertificate().fingerprint256;
      assert.equal(before, new X509Certificate(pki.server.cert).fingerprint256);
      assert.match(await options(old, 1), /^SIP\/2\.0 \d{3} /);

      // The renewal: new files in place, then the reload SIGHUP runs.
      copyFileSync(next.server.certFile, pki.server.certFile);
      copyFileSync(next.server.keyFile, pki.server.keyFile);
      const file = join(mkdtempSync(join(tmpdir(), 'renew-')), 'parley.yaml');
      writeFileSync(file, JSON.stringify(p.config)); // JSON is YAML: the config in force
      assert.equal(p.app.reload(file).ok, true);
      const renewed = new X509Certificate(next.server.cert).fingerprint256;
      const cas = [pki.ca, next.ca];
      await waitFor('a new connection gets the renewed certificate', async () => (await fingerprintOf(tlsPort, cas)) === renewed, 5000);
      assert.match(await options(old, 2), /^SIP\/2\.0 \d{3} /, 'the connection opened before still serves');

      // A broken key file: the reload goes on, the listener keeps the renewed certificate.
      writeFileSync(pki.server.keyFile, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
      assert.equal(p.app.reload(file).ok, true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await fingerprintOf(tlsPort, cas), renewed, 'unusable files left the listener as it was');
    } finally {
      old.destroy();
      await next.remove();
    }
  });
});
