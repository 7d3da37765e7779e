// Which retention a new recording gets: the flow's record step says, else the rule
// that gave the call to the flow, else recording.retention.days; none of them: kept
// until someone deletes it. Decided when the recording starts and written (and
// later signed) into its sidecar, so that changing the config does not shorten
// the life of recordings already made.
import type { ClusterOwnershipEntry, RetentionEntry } from '../metadata.ts';

/** Where a call's recordings come from: set by call control when a rule gives the call to a flow. */
export interface RecordingOrigin {
  flow: string;
  rule: string | null;
  ruleRetentionDays: number | null;
  defaultRetentionDays: number | null;
  /** In a cluster: the room lease the call was admitted under (written into its recordings' sidecars). */
  cluster?: ClusterOwnershipEntry | null;
}

export function resolveRetention(stepDays: number | undefined, origin: RecordingOrigin | null, defaultDays: number | null): RetentionEntry | null {
  if (stepDays !== undefined) return { days: stepDays, from: 'step' };
  if (origin?.ruleRetentionDays != null) return { days: origin.ruleRetentionDays, from: 'rule' };
  const d = origin?.defaultRetentionDays ?? defaultDays;
  return d == null ? null : { days: d, from: 'default' };
}

const DAY_MS = 86_400_000;

/** When a recording that ended (else started) at `endMs` expires under `days`; null: never. */
export function expiresAt(endMs: number, days: number | null): number | null {
  return days == null ? null : endMs + days * DAY_MS;
}
