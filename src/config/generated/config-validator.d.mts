// Types of config-validator.mjs, which scripts/build-config-validator.ts generates.
import type { ValidateFunction } from 'ajv';

export const schemaHash: string;
export const validate: ValidateFunction;
export default validate;
