// JSON Schema of the `flows` section: a flow is a list of steps; each step is an
// object with one key, the task, holding its parameters (see README, "Flows").
import type { FlowsConfig } from '../call/flow-types.ts';
import { retention } from './routing-schema.ts';

const str = { type: 'string', minLength: 1 } as const;
const seconds = { type: 'number', exclusiveMinimum: 0, maximum: 3600 } as const;
const digitKey = { type: 'string', pattern: '^[0-9*#A-D]$' } as const;

const playSpec = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prompt: str,
    text: str,
    tone: { type: 'string', pattern: '^(beep|ringback|dtmf:[0-9*#A-D]+|silence:[0-9]+)$' },
    repeat: { type: 'integer', minimum: 1, maximum: 100 },
  },
  description: 'one of prompt, text or tone',
  oneOf: [{ required: ['prompt'] }, { required: ['text'] }, { required: ['tone'] }],
} as const;

const playParams = {
  ...playSpec,
  properties: {
    ...playSpec.properties,
    bargeIn: { type: 'boolean' },
    target: { type: 'string', enum: ['caller', 'room'] },
    notice: { type: 'boolean' },
  },
} as const;

const collectProps = {
  prompt: playSpec,
  maxDigits: { type: 'integer', minimum: 1, maximum: 64 },
  minDigits: { type: 'integer', minimum: 0, maximum: 64 },
  terminator: digitKey,
  interDigitTimeout: seconds,
  timeout: seconds,
  retries: { type: 'integer', minimum: 0, maximum: 10 },
  invalidPrompt: playSpec,
  fallback: str,
} as const;

const obj = (properties: object, required: string[] = []) =>
  ({ type: 'object', additionalProperties: false, required, properties }) as const;
const step = (name: string, params: object) => obj({ [name]: params }, [name]);

const stepSchema = {
  description:
    'one of answer, play, say, menu, collect, record, bridge, conference, whisper, transfer, hangup, goto, siprec (a step is an object with one key)',
  oneOf: [
    step('answer', { type: ['object', 'null'], additionalProperties: false, properties: { early: { type: 'boolean' } } }),
    step('play', playParams),
    step('say', { ...playParams, required: ['text'] }),
    step('whisper', playSpec),
    step('menu', obj({
      ...collectProps,
      branches: { type: 'object', minProperties: 1, propertyNames: { pattern: '^[0-9*#A-D]+$' }, additionalProperties: str },
      into: str,
    }, ['prompt', 'branches'])),
    step('collect', obj({ ...collectProps, into: str }, ['into'])),
    step('record', obj({
      action: { type: 'string', enum: ['start', 'stop', 'pause', 'resume', 'mask', 'unmask'] },
      stereo: { type: 'boolean' },
      stems: { type: 'boolean' },
      retention,
    }, ['action'])),
    step('bridge', {
      ...obj({
        to: { description: 'a sip:, sips: or tel: URI, "to" or "request-uri"', oneOf: [{ type: 'string', pattern: '^(sips?|tel):' }, { type: 'string', enum: ['to', 'request-uri'] }] },
        ringTimeout: seconds,
        whisper: playSpec,
        copyHeaders: { type: 'array', items: str },
        identity: { type: 'string', enum: ['none', 'p-asserted-identity', 'history-info', 'diversion'] },
        earlyMedia: { type: 'boolean' },
        callerHears: { description: 'ringback, notice, silence or a prompt', oneOf: [{ type: 'string', enum: ['ringback', 'notice', 'silence'] }, playSpec] },
        srtp: { description: 'the callee leg\'s media: off (plain RTP, the default), follow (SDES-SRTP when the caller\'s leg uses it), on (SDES-SRTP always: a callee without it answers 488)', type: 'string', enum: ['off', 'follow', 'on'] },
        transfers: { description: 'whose REFER (blind or attended transfer) Parley carries out: callee (the default), both (the caller too: only where callers may make Parley dial any URI) or refuse (403)', type: 'string', enum: ['callee', 'both', 'refuse'] },
        dtmf: { description: "RFC 4733 digits between the connected parties: relay (the default: each party's go on to the other) or take (Parley takes them only)", type: 'string', enum: ['relay', 'take'] },
        fallback: str,
      }),
      type: ['object', 'null'],
    }),
    step('conference', obj({
      room: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
      identity: { type: 'string', enum: ['normal', 'generated', 'impersonate'] },
      as: obj({ uri: { type: 'string', pattern: '^(sips?|tel):' }, displayName: str }, ['uri']),
      muted: { type: 'boolean' },
      joinTone: playSpec,
      leaveTone: playSpec,
      transfers: { description: "members: a member's blind transfer (REFER) dials its target into the room in the member's place; refuse (the default): 403", type: 'string', enum: ['members', 'refuse'] },
    }, ['room'])),
    step('transfer', obj({ to: { type: 'string', pattern: '^(sips?|tel):' } }, ['to'])),
    step('hangup', { ...obj({ status: { type: 'integer', minimum: 400, maximum: 699 }, reason: str }), type: ['object', 'null'] }),
    step('goto', str),
    step('siprec', { ...obj({ stereo: { type: 'boolean' }, stems: { type: 'boolean' }, retention }), type: ['object', 'null'] }),
  ],
} as const;

export const flowsSchema = {
  type: 'object',
  propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
  additionalProperties: { type: 'array', minItems: 1, items: stepSchema },
} as const;

/** Names a flow refers to (goto, menu branches and fallbacks, collect and bridge fallbacks) that do not exist. */
export function danglingFlowReferences(flows: FlowsConfig): string[] {
  const problems: string[] = [];
  for (const [name, steps] of Object.entries(flows)) {
    steps.forEach((s, i) => {
      const refs: Array<[string, string | undefined]> = [];
      if ('goto' in s) refs.push(['goto', s.goto]);
      if ('menu' in s) {
        refs.push(['menu.fallback', s.menu.fallback]);
        for (const [digits, target] of Object.entries(s.menu.branches)) refs.push([`menu.branches.${digits}`, target]);
      }
      if ('collect' in s) refs.push(['collect.fallback', s.collect.fallback]);
      if ('bridge' in s && s.bridge) refs.push(['bridge.fallback', s.bridge.fallback]);
      for (const [key, target] of refs) {
        if (target !== undefined && !(target in flows)) problems.push(`flows.${name}.${i}.${key}: no flow named '${target}'`);
      }
    });
  }
  return problems;
}

/**
 * A `siprec` step answers the recording client's INVITE itself (its SDP, the
 * `+sip.srs` Contact): it can only be a flow's first step, and such a flow can only
 * be started by a rule (a goto or a fallback runs after the call was answered).
 */
export function siprecPlacement(flows: FlowsConfig): string[] {
  const problems: string[] = [];
  const siprecFlows = new Set(Object.entries(flows).filter(([, steps]) => steps[0] !== undefined && 'siprec' in steps[0]).map(([n]) => n));
  for (const [name, steps] of Object.entries(flows)) {
    steps.forEach((s, i) => {
      if (i > 0 && 'siprec' in s) problems.push(`flows.${name}.${i}.siprec: must be the flow's first step (it answers the recording client's INVITE)`);
      const targets: Array<[string, string | undefined]> = [];
      if ('goto' in s) targets.push(['goto', s.goto]);
      if ('menu' in s) targets.push(['menu.fallback', s.menu.fallback], ...Object.entries(s.menu.branches).map(([d, t]): [string, string] => [`menu.branches.${d}`, t]));
      if ('collect' in s) targets.push(['collect.fallback', s.collect.fallback]);
      if ('bridge' in s && s.bridge) targets.push(['bridge.fallback', s.bridge.fallback]);
      for (const [key, t] of targets) {
        if (t !== undefined && siprecFlows.has(t)) problems.push(`flows.${name}.${i}.${key}: flow '${t}' starts with a siprec step, which only a rule's app action can start`);
      }
    });
  }
  return problems;
}

/**
 * Digit settings no input can satisfy: minDigits above maxDigits (a menu's maxDigits
 * defaults to its longest branch), and menu branches that can never be chosen: longer
 * than maxDigits, holding the terminator (it ends input and is not part of the digits),
 * or shorter than minDigits.
 */
export function digitInputProblems(flows: FlowsConfig): string[] {
  const problems: string[] = [];
  for (const [name, steps] of Object.entries(flows)) {
    steps.forEach((s, i) => {
      const at = `flows.${name}.${i}`;
      if ('collect' in s) {
        const { minDigits = 1, maxDigits = 1 } = s.collect;
        if (minDigits > maxDigits) problems.push(`${at}.collect.minDigits: must not be above maxDigits (${maxDigits})`);
      }
      if (!('menu' in s)) return;
      const m = s.menu;
      const keys = Object.keys(m.branches);
      const maxDigits = m.maxDigits ?? Math.max(...keys.map((k) => k.length));
      const minDigits = m.minDigits ?? 1;
      if (minDigits > maxDigits) problems.push(`${at}.menu.minDigits: must not be above maxDigits (${maxDigits})`);
      for (const key of keys) {
        const why =
          m.terminator !== undefined && key.includes(m.terminator) ? `holds the terminator '${m.terminator}', which ends input and is not part of the digits`
          : key.length > maxDigits ? `longer than maxDigits (${maxDigits})`
          : key.length < minDigits ? `shorter than minDigits (${minDigits})`
          : null;
        if (why) problems.push(`${at}.menu.branches.${key}: can never be chosen: ${why}`);
      }
    });
  }
  return problems;
}
