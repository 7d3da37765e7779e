// JSON schemas shared by the routes (also what the OpenAPI document shows).
import { errorSchema } from '../api-error.ts';

export const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema } as const;

export const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const nameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const okSchema = { type: 'object', properties: { ok: { type: 'boolean' } }, additionalProperties: true } as const;

/** A free-form object in answers (serialized as is). */
export const anyObject = { type: 'object', additionalProperties: true } as const;
export const anyArray = { type: 'array', items: anyObject } as const;

/** What can be played: exactly one of prompt, text, tone (routes add `oneOf`). */
export const playSpecProperties = {
  // No '..' and no leading slash: the prompt library also refuses to leave prompts/.
  prompt: { type: 'string', pattern: '^(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$' },
  text: { type: 'string', minLength: 1, maxLength: 1000 },
  tone: { type: 'string', pattern: '^(beep|ringback|dtmf:[0-9A-D*#]{1,32}|silence:[0-9]{1,5})$' },
  repeat: { type: 'integer', minimum: 1, maximum: 100 },
} as const;
