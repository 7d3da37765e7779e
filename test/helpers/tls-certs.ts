// A throw-away PKI for TLS tests, made with the OpenSSL CLI: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate from the same CA, and a client certificate from
// another CA (one the server does not trust).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  dir: string;
  caFile: string;
  ca: Buffer;
  server: CertPair;
  client: CertPair;
  /** Signed by a CA the server does not know. */
  rogueClient: CertPair;
  /** A server certificate from the test CA for the DNS names `names` (a SIP domain a test resolves). */
  serverFor(names: string[]): Promise<CertPair>;
  remove(): Promise<void>;
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', key, '-out', cert, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  return { cert, key };
}

async function issue(dir: string, name: string, ca: { cert: string; key: string }, ext: string): Promise<CertPair> {
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.crt`);
  const extFile = path.join(dir, `${name}.ext`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', csr]);
  await run('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', ext, extFile]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', certFile, '-extfile', extFile]);
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'parley-pki-'));
  const ca = await makeCa(dir, 'test-ca');
  const rogue = await makeCa(dir, 'rogue-ca');
  const server = await issue(dir, 'server', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth');
  const client = await issue(dir, 'client', ca, 'subjectAltName=DNS:upstream.test\nextendedKeyUsage=clientAuth,serverAuth');
  const rogueClient = await issue(dir, 'rogue-client', rogue, 'subjectAltName=DNS:rogue.test\nextendedKeyUsage=clientAuth');
  return {
    dir,
    caFile: ca.cert,
    ca: await readFile(ca.cert),
    server,
    client,
    rogueClient,
    serverFor: (names) => issue(dir, `server-${names.join('-')}`, ca, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth`),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
