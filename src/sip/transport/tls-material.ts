// Reads a TLS listener's PEM files once at start-up and checks that they make a usable
// context, so a missing or broken file stops the server with the config key that named it.
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { ListenConfig } from '../../config/schema.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Trusted CAs for client certificates and for the servers the B leg reaches; null: the system's. */
  ca: Buffer | null;
  requireClientCert: boolean;
}

async function readPem(key: string, file: string | undefined): Promise<Buffer> {
  if (!file) throw new Error(`${key}: required for transport tls`);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new Error(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!data.includes('-----BEGIN ')) throw new Error(`${key}: ${file} is not a PEM file`);
  return data;
}

/** `where` is the config path of the listener (`sip.listen.2`). */
export async function loadTlsMaterial(l: ListenConfig, where: string): Promise<TlsMaterial> {
  const cert = await readPem(`${where}.cert`, l.cert);
  const key = await readPem(`${where}.key`, l.key);
  const ca = l.ca ? await readPem(`${where}.ca`, l.ca) : null;
  try {
    tls.createSecureContext({ cert, key, ca: ca ?? undefined });
  } catch (err) {
    // OpenSSL names the failing part (a key that does not match the certificate, a bad PEM body).
    throw new Error(`${where}.cert/${where}.key: not a usable certificate and key: ${(err as Error).message}`);
  }
  return { cert, key, ca, requireClientCert: l.requireClientCert === true };
}
