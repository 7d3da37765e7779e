// The configuration's validator compiled ahead of time (src/config/generated/, built by
// scripts/build-config-validator.ts) is current, and judges configs as ajv compiling the schema
// at start does: the same verdict and the same errors, keyword for keyword.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { validateConfig, validatorIsCurrent } from '../../../src/config/config-validator.ts';
import * as generated from '../../../src/config/generated/config-validator.mjs';
import { configSchema, defaultConfig } from '../../../src/config/schema.ts';
import { AJV_OPTIONS } from '../../../src/config/validator-options.ts';

const clone = <T>(v: T): T => structuredClone(v);

/** Configs that pass and configs that break each kind of keyword (types, enums, unknown keys, patterns, string lengths, ranges). */
function samples(): Array<[string, unknown]> {
  const wrongType = clone(defaultConfig) as unknown as { media: Record<string, unknown> };
  wrongType.media.workers = 'many';
  const unknownKey = clone(defaultConfig) as unknown as Record<string, unknown>;
  unknownKey.medai = {};
  const badEnum = clone(defaultConfig) as unknown as { log: Record<string, unknown> };
  badEnum.log.level = 'loud';
  const shortToken = clone(defaultConfig) as unknown as { api: Record<string, unknown> };
  shortToken.api.token = 'short';
  shortToken.api.tokens = [{ name: 'bad name!', token: '🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂' }];
  const range = clone(defaultConfig) as unknown as { media: { rtpPortRange: Record<string, unknown> } };
  range.media.rtpPortRange.max = 70000;
  const missing = clone(defaultConfig) as unknown as Record<string, unknown>;
  delete missing.sip;
  return [['the defaults', defaultConfig], ['a wrong type', wrongType], ['an unknown key', unknownKey], ['a value outside an enum', badEnum], ['strings too short or off pattern', shortToken], ['a number out of range', range], ['a missing key', missing], ['not an object', 42]];
}

describe('config validator compiled ahead of time', () => {
  it('was built from the schema in use (else: node --import tsx scripts/build-config-validator.ts)', () => {
    assert.equal(validatorIsCurrent, true);
    assert.equal(validateConfig, generated.validate);
  });

  it('gives the verdict and the errors of the schema compiled at start', () => {
    const atStart = new Ajv(AJV_OPTIONS).compile(configSchema);
    for (const [what, config] of samples()) {
      const want = atStart(clone(config));
      const got = generated.validate(clone(config));
      assert.equal(got, want, what);
      assert.deepEqual(generated.validate.errors ?? null, atStart.errors ?? null, what);
      if (what !== 'the defaults') assert.ok((atStart.errors ?? []).length > 0, `${what}: rejected`);
    }
  });
});
