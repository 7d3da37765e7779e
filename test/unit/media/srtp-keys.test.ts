// SDES keys: the right length per suite (RFC 4568 §6.2.1, RFC 7714 §12), all bits random.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSrtpKeyBase64, SRTP_KEY_LENGTHS } from '../../../src/media-plane/srtp/index.ts';
import { SRTP_SUITES } from '../../../src/media-plane/sdp-types.ts';

describe('generateSrtpKeyBase64', () => {
  const bytes: Record<string, number> = { AES_CM_128_HMAC_SHA1_80: 30, AES_CM_128_HMAC_SHA1_32: 30, AEAD_AES_128_GCM: 28, AEAD_AES_256_GCM: 44 };

  for (const suite of SRTP_SUITES) {
    it(`${suite}: key||salt of ${bytes[suite]} bytes, base64 with padding (RFC 3548)`, () => {
      const k = generateSrtpKeyBase64(suite);
      assert.match(k, /^[A-Za-z0-9+/]+={0,2}$/);
      assert.equal(k.length, Math.ceil(bytes[suite] / 3) * 4);
      assert.equal(Buffer.from(k, 'base64').length, bytes[suite]);
      assert.equal(SRTP_KEY_LENGTHS[suite].key + SRTP_KEY_LENGTHS[suite].salt, bytes[suite]);
    });
  }

  it('uses the whole byte range, unlike an [0-9a-z] string (mediasoup GetRandomString)', () => {
    const seen = new Set<number>();
    let outsideAlnum = 0;
    let ones = 0;
    let total = 0;
    for (let i = 0; i < 400; i++) {
      const raw = Buffer.from(generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80'), 'base64');
      for (const b of raw) {
        seen.add(b);
        if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a))) outsideAlnum++;
        for (let bit = 0; bit < 8; bit++) ones += (b >> bit) & 1;
        total += 8;
      }
    }
    // 12,000 random bytes: every one of the 256 values appears (P(miss) ≈ 256·e^-47).
    assert.equal(seen.size, 256);
    assert.ok(outsideAlnum > 10_000, `${outsideAlnum} bytes outside [0-9a-z]`);
    assert.ok(Math.abs(ones / total - 0.5) < 0.01, `bit balance ${ones / total}`);
  });

  it('gives a different key every time', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateSrtpKeyBase64('AEAD_AES_128_GCM')));
    assert.equal(keys.size, 100);
  });
});
