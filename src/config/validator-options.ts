// What the configuration's validator is compiled with, ahead of time (scripts/build-config-validator.ts)
// or at start (config-validator.ts), and the hash that tells whether the generated one is current.
import { createHash } from 'node:crypto';

/** Every error (not only the first), unknown keywords allowed, errors with the schema that failed. */
export const AJV_OPTIONS = { allErrors: true, strict: false, verbose: true } as const;

/** A hash of a schema's JSON text, which the generated file records. */
export function schemaHash(schema: object): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}
