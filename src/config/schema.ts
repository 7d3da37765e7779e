// The configuration's JSON Schema. Every key here is documented in the README's
// "Configuration" section; keep the two in step. A section of more than a few
// keys lives in its own file next to this one (<section>-schema.ts: its types,
// its schema, its defaults); this file puts them together and keeps the small
// ones (log, prompts, shutdown). A new section: a new file, and one line each in
// ParleyConfig, configSchema and defaultConfig.

import type { FlowsConfig } from '../call/flow-types.ts';
import type { RoutingConfig } from '../policy/rule-types.ts';
import { apiSchema, defaultApi, type ApiConfig } from './api-schema.ts';
import { callsSchema, defaultCalls, type CallsConfig } from './calls-schema.ts';
import { clusterSchema, type ClusterConfig } from './cluster-schema.ts';
import { flowsSchema } from './flows-schema.ts';
import { defaultMedia, mediaSchema, type MediaConfig } from './media-schema.ts';
import { defaultRecording, recordingSchema, type RecordingConfig } from './recording-schema.ts';
import { defaultRouting, routingSchema } from './routing-schema.ts';
import { defaultSecurity, securitySchema, type SecurityConfig } from './security-schema.ts';
import { defaultSip, sipSchema, type SipConfig } from './sip-schema.ts';
import { defaultSiprec, siprecSchema, type SiprecConfig } from './siprec-schema.ts';

export type { ApiConfig, ApiToken, ConsoleConfig, WebhookConfig } from './api-schema.ts';
export type { CallsConfig } from './calls-schema.ts';
export { defaultClusterTuning, type ClusterConfig } from './cluster-schema.ts';
export type { MediaConfig, WebRtcConfig } from './media-schema.ts';
export type { RecordingConfig, RetentionConfig } from './recording-schema.ts';
export type { SecurityConfig } from './security-schema.ts';
export type { ListenConfig, SipConfig, SipTransport } from './sip-schema.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ParleyConfig {
  log: { level: LogLevel; pretty: boolean };
  sip: SipConfig;
  media: MediaConfig;
  /** voice: the espeak-ng voice for text prompts. */
  prompts: { dir: string; cacheDir: string; voice: string };
  recording: RecordingConfig;
  routing: RoutingConfig;
  flows: FlowsConfig;
  /** Who may start calls and how many (see src/call/admission.ts). */
  security: SecurityConfig;
  /** SIGTERM: refuse new calls, let running ones finish for up to drainTimeoutMs, then end them. */
  shutdown: { drainTimeoutMs: number };
  /** How calls given to flows are handled (see src/call/call-manager.ts). */
  calls: CallsConfig;
  api: ApiConfig;
  /** The SIPREC recording server (src/config/siprec-schema.ts). */
  siprec: SiprecConfig;
  /** Several nodes as one service (src/cluster/); null or absent: Parley runs alone. */
  cluster?: ClusterConfig | null;
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['log', 'sip', 'media', 'prompts', 'recording', 'routing', 'flows', 'security', 'shutdown', 'calls', 'api', 'siprec'],
  properties: {
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['level', 'pretty'],
      properties: {
        level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
        pretty: { type: 'boolean' },
      },
    },
    sip: sipSchema,
    media: mediaSchema,
    prompts: {
      type: 'object',
      additionalProperties: false,
      required: ['dir', 'cacheDir', 'voice'],
      properties: {
        dir: { type: 'string', minLength: 1 },
        cacheDir: { type: 'string', minLength: 1 },
        voice: { type: 'string', pattern: '^[A-Za-z0-9_+-]{1,40}$' },
      },
    },
    recording: recordingSchema,
    routing: routingSchema,
    flows: flowsSchema,
    security: securitySchema,
    shutdown: {
      type: 'object',
      additionalProperties: false,
      required: ['drainTimeoutMs'],
      properties: { drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3600000 } },
    },
    calls: callsSchema,
    api: apiSchema,
    siprec: siprecSchema,
    cluster: clusterSchema,
  },
} as const;

/** Defaults: a file only states what it changes. Loopback everywhere by default. */
export const defaultConfig: ParleyConfig = {
  log: { level: 'info', pretty: false },
  sip: defaultSip,
  media: defaultMedia,
  prompts: { dir: 'prompts', cacheDir: '.cache/prompts', voice: 'en-us' },
  recording: defaultRecording,
  routing: defaultRouting,
  flows: {},
  security: defaultSecurity,
  shutdown: { drainTimeoutMs: 30000 },
  calls: defaultCalls,
  api: defaultApi,
  siprec: defaultSiprec,
  cluster: null,
};
