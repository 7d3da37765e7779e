// Small schema pieces more than one section uses.

export const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
export const host = { type: 'string', minLength: 1 } as const;

/** A range of UDP ports for media, above the privileged ones. */
export const udpPortRange = {
  type: 'object',
  additionalProperties: false,
  required: ['min', 'max'],
  properties: {
    min: { type: 'integer', minimum: 1024, maximum: 65535 },
    max: { type: 'integer', minimum: 1024, maximum: 65535 },
  },
} as const;
