// SDES keys in SDP (RFC 4568 a=crypto): which line of an offer or answer Parley can use.
import type { MediaDescription } from 'sdp-transform';
import { SUPPORTED_SRTP_SUITES } from './srtp/index.ts';
import type { SrtpKey, SrtpSuite } from './sdp-types.ts';

/** Key and salt lengths of each suite (RFC 4568 §6.2, RFC 7714 §12): the inline key is their base64. */
const SRTP_KEY_BYTES: Record<SrtpSuite, number> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

/** The first a=crypto line of the m-line whose suite, key and parameters Parley can use; null when there is none. */
export function parseCrypto(m: MediaDescription): SrtpKey | null {
  for (const c of m.crypto ?? []) {
    // The tag is 1*9DIGIT (RFC 4568 §9.1): the answer repeats it, so a line without one is not usable.
    if (typeof c.id !== 'number' || !Number.isInteger(c.id) || c.id < 0 || c.id > 999_999_999) continue;
    const suite = c.suite.toUpperCase() as SrtpSuite;
    if (!SUPPORTED_SRTP_SUITES.includes(suite)) continue;
    // inline:<key||salt base64>[|lifetime][|MKI:length] (RFC 4568 §6.1). The lifetime
    // (2^31 packets and the like) is never reached by a call; an MKI is taken out of
    // each packet the peer sends (SrtpSession).
    const m2 = /^inline:([A-Za-z0-9+/=]+)((?:\|[^|\s]+)*)$/.exec(c.config.trim());
    if (!m2) continue;
    if (!isKeyOf(suite, m2[1])) continue; // wrong length or not base64: not a usable key
    const mki = mkiOf(suite, m2[2]);
    if (mki === null) continue;
    if (c.sessionConfig) continue; // session parameters (UNENCRYPTED_SRTP etc.) are not supported
    return mki ? { tag: c.id, suite, keyBase64: m2[1], mki } : { tag: c.id, suite, keyBase64: m2[1] };
  }
  return null;
}

/**
 * The `|MKI:length` of an inline key's parameters (RFC 4568 §6.1: a decimal value and
 * its length in bytes): undefined when there is none, null when it is not usable here:
 * longer than 4 bytes, a value that does not fit its length, more than one, or on an
 * AEAD suite (only AES-CM's packet layout is handled: RFC 3711 §3.1, §3.4).
 */
function mkiOf(suite: SrtpSuite, params: string): { value: number; length: number } | null | undefined {
  const mkis = params.split('|').filter((p) => p.includes(':'));
  if (mkis.length === 0) return undefined;
  const m = /^(\d{1,10}):(\d{1,3})$/.exec(mkis[0]);
  if (mkis.length > 1 || !m || suite.startsWith('AEAD_')) return null;
  const value = Number(m[1]);
  const length = Number(m[2]);
  if (length < 1 || length > 4 || value >= 2 ** (8 * length)) return null;
  return { value, length };
}

/** Strict base64 (RFC 4648 §4, padded) of exactly the suite's key and salt. */
function isKeyOf(suite: SrtpSuite, b64: string): boolean {
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  return Buffer.from(b64, 'base64').length === SRTP_KEY_BYTES[suite];
}
