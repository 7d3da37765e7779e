// What `parley start` prints once running, for someone who just typed the start command:
// where to point a phone, where the recordings go, whether and where the API answers.
import path from 'node:path';
import type { Parley } from './app.ts';

export function startHints(app: Parley, configFile: string): Record<string, string> {
  const config = app.config;
  const api = app.api;
  const hints: Record<string, string> = {
    sip: app.sipHostports.split(',').filter(Boolean).join(' '),
    recordings: path.resolve(config.recording.dir),
    api: api ? `${api.url} (header Authorization: Bearer <api.token>)` : `off (set api.enabled and api.token in ${configFile})`,
  };
  if (api && config.api.console.enabled) hints.console = `${api.url}/console/`;
  hints.tryIt = 'bash scripts/demo-call.sh (a SIPp call through Parley), or point a phone at the sip address as its outbound proxy';
  return hints;
}
