// SDES master keys (RFC 4568 §6.1 "inline:" key||salt, base64): generation and checking.
import { randomBytes } from 'node:crypto';
import type { SrtpSuite } from '../sdp-types.ts';

/** Master key and master salt lengths in bytes per suite. */
export const SRTP_KEY_LENGTHS: Readonly<Record<SrtpSuite, { key: number; salt: number }>> = {
  // RFC 4568 §6.2.1: AES_CM_128_HMAC_SHA1_80/_32 take a 128-bit key and a 112-bit salt.
  AES_CM_128_HMAC_SHA1_80: { key: 16, salt: 14 },
  AES_CM_128_HMAC_SHA1_32: { key: 16, salt: 14 },
  // RFC 7714 §12: the AEAD suites take a 96-bit salt.
  AEAD_AES_128_GCM: { key: 16, salt: 12 },
  AEAD_AES_256_GCM: { key: 32, salt: 12 },
};

export class SrtpKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SrtpKeyError';
  }
}

/**
 * A fresh master key||salt for the suite, base64 with padding (RFC 4568 §6.1 refers to
 * RFC 3548 base64). From crypto.randomBytes: every bit random, unlike mediasoup's
 * [0-9a-z] strings (about 5.2 bits per byte).
 */
export function generateSrtpKeyBase64(suite: SrtpSuite): string {
  const len = SRTP_KEY_LENGTHS[suite];
  if (!len) throw new SrtpKeyError(`unknown SRTP suite ${String(suite)}`);
  return randomBytes(len.key + len.salt).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Splits a base64 key||salt; throws SrtpKeyError naming what is wrong. */
export function decodeSrtpKey(suite: SrtpSuite, keyBase64: string, which: string): { key: Buffer; salt: Buffer } {
  const len = SRTP_KEY_LENGTHS[suite];
  if (!len) throw new SrtpKeyError(`unknown SRTP suite ${String(suite)}`);
  if (typeof keyBase64 !== 'string' || !BASE64.test(keyBase64)) {
    throw new SrtpKeyError(`${which} SRTP key is not base64`);
  }
  const raw = Buffer.from(keyBase64, 'base64');
  if (raw.length !== len.key + len.salt) {
    throw new SrtpKeyError(`${which} SRTP key for ${suite} has ${raw.length} bytes, needs ${len.key + len.salt} (key ${len.key} + salt ${len.salt})`);
  }
  return { key: raw.subarray(0, len.key), salt: raw.subarray(len.key) };
}
