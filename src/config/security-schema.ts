// The `security` section: upstreams, call limits, digest authentication.

/** Who may start calls and how many (see src/call/admission.ts). */
export interface SecurityConfig {
  upstreams: string[];
  maxCalls: number;
  maxCallRatePerSource: number;
  /** Legs one conference room may hold; 0: no limit. */
  maxLegsPerRoom: number;
  /** Digest authentication for callers that are not upstreams (null: none). */
  digest: { realm: string; users: Record<string, string> } | null;
}

export const securitySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'maxCalls', 'maxCallRatePerSource', 'maxLegsPerRoom', 'digest'],
  properties: {
    upstreams: { type: 'array', items: { type: 'string', minLength: 1 } },
    maxCalls: { type: 'integer', minimum: 0 },
    maxCallRatePerSource: { type: 'number', minimum: 0 },
    maxLegsPerRoom: { type: 'integer', minimum: 0 },
    digest: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['realm', 'users'],
      properties: {
        realm: { type: 'string', pattern: '^[^"\\\\]+$' },
        users: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', minLength: 1 } },
      },
    },
  },
} as const;

export const defaultSecurity: SecurityConfig = { upstreams: [], maxCalls: 0, maxCallRatePerSource: 0, maxLegsPerRoom: 0, digest: null };
