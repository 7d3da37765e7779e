// JSON Schema of the `routing` section (the rule chain). Kept apart from the
// rest of the schema because it is the largest part and changes on its own.
import type { RoutingConfig } from '../policy/rule-types.ts';

const str = { type: 'string', minLength: 1 } as const;
const strList = { type: 'array', items: str } as const;
const strOrList = { description: 'a string or a list of strings', oneOf: [str, { ...strList, minItems: 1 }] } as const;
const headerMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const sipUri = { type: 'string', pattern: '^(sips?|tel):' } as const;
const mediaKind = { type: 'string', enum: ['audio', 'video', 'message', 'application', 'image', 'text', 'none'] } as const;

const headerCondition = {
  description: 'a pattern, { present: true|false }, { contains: text } or { regex: text }',
  oneOf: [
    { type: 'string' },
    { type: 'object', additionalProperties: false, required: ['present'], properties: { present: { type: 'boolean' } } },
    { type: 'object', additionalProperties: false, required: ['contains'], properties: { contains: str } },
    { type: 'object', additionalProperties: false, required: ['regex'], properties: { regex: str } },
  ],
} as const;

const match = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: strOrList,
    from: str,
    to: str,
    requestUri: str,
    userAgent: str,
    body: str,
    headers: { type: 'object', additionalProperties: headerCondition },
    media: { description: 'a media kind or a list of them', oneOf: [mediaKind, { type: 'array', items: mediaKind, minItems: 1 }] },
    source: strOrList,
  },
} as const;

/** How long the recordings of the calls a rule (or a flow's record step) starts are kept. */
export const retention = {
  type: 'object',
  additionalProperties: false,
  required: ['days'],
  properties: { days: { type: 'number', exclusiveMinimum: 0, maximum: 36500 } },
} as const;

const one = (key: string, value: object) =>
  ({ type: 'object', additionalProperties: false, required: [key], properties: { [key]: value } }) as const;

const action = {
  description: 'one of { proxy }, { retarget }, { redirect }, { respond }, { headers }, { app }',
  oneOf: [
    one('proxy', {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        targets: { type: 'array', items: sipUri },
        mode: { type: 'string', enum: ['serial', 'parallel'] },
        recordRoute: { type: 'boolean' },
      },
    }),
    one('retarget', sipUri),
    one('redirect', {
      type: 'object',
      additionalProperties: false,
      required: ['contacts'],
      properties: {
        status: { type: 'integer', minimum: 300, maximum: 399 },
        // A URI, or a name-addr with contact parameters (q, expires): checked at load (policy/redirect-contacts.ts).
        contacts: { type: 'array', items: str, minItems: 1 },
      },
    }),
    one('respond', {
      type: 'object',
      additionalProperties: false,
      required: ['status'],
      properties: {
        status: { type: 'integer', minimum: 200, maximum: 699 },
        reason: str,
        headers: headerMap,
      },
    }),
    one('headers', {
      type: 'object',
      additionalProperties: false,
      properties: { remove: strList, add: headerMap, set: headerMap },
    }),
    // `bridgeTo`: where this call's bridge steps without `to` go (the original To, or the Request-URI).
    { type: 'object', additionalProperties: false, required: ['app'], properties: { app: str, bridgeTo: { type: 'string', enum: ['to', 'request-uri'] } } },
  ],
} as const;

export const routingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['proxyByDefault', 'declineStatus', 'defaultRoute', 'loopMarker', 'rules'],
  properties: {
    proxyByDefault: { type: 'boolean' },
    declineStatus: { type: 'integer', minimum: 400, maximum: 699 },
    defaultRoute: { ...sipUri, nullable: true },
    loopMarker: {
      type: 'object',
      additionalProperties: false,
      required: ['header', 'value'],
      properties: { header: { type: 'string', pattern: '^[A-Za-z0-9-]+$' }, value: { type: 'string', pattern: '^[A-Za-z0-9._~!*+-]+$' }, secret: { type: 'string', nullable: true, minLength: 16 } },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'actions'],
        properties: {
          name: str,
          enabled: { type: 'boolean' },
          scope: { type: 'object', additionalProperties: false, properties: { workflow: str, user: str } },
          match,
          actions: { type: 'array', items: action, minItems: 1 },
          retention,
        },
      },
    },
  },
} as const;

export const defaultRouting: RoutingConfig = {
  proxyByDefault: true,
  declineStatus: 403,
  defaultRoute: null,
  loopMarker: { header: 'X-Parley-Leg', value: 'b2b' },
  rules: [],
};
