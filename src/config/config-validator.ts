// The configuration's validator: the one compiled ahead of time into generated/config-validator.mjs
// (scripts/build-config-validator.ts) when it was built from this schema, else compiled here,
// at start, as it always was (about 250 ms).
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import * as generated from './generated/config-validator.mjs';
import { configSchema, type ParleyConfig } from './schema.ts';
import { AJV_OPTIONS, schemaHash } from './validator-options.ts';

function compileNow(): ValidateFunction<ParleyConfig> {
  const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
  return new Ajv(AJV_OPTIONS).compile<ParleyConfig>(configSchema);
}

/** True when the generated validator was built from the schema in use. */
export const validatorIsCurrent = generated.schemaHash === schemaHash(configSchema);

export const validateConfig: ValidateFunction<ParleyConfig> = validatorIsCurrent ? (generated.validate as ValidateFunction<ParleyConfig>) : compileNow();
