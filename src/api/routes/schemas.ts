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
