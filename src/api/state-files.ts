// Where the API keeps its state (rule switches, the webhook spool, the dead
// letter): each key's file when it is set, else under <recording.dir>/.parley/,
// the folder the recordings lock gives one Parley alone (as the signing key, the
// audit log and the upload journal). Until this release the defaults were
// relative to the working folder (.parley/…): a file left there is moved to the
// new place once, at the first start that finds none there.
import { copyFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ApiConfig } from '../config/api-schema.ts';
import type { Logger } from '../util/logger.ts';

export interface ApiStateFiles {
  rules: string;
  spool: string;
  deadLetter: string;
}

const NAMES: Record<keyof ApiStateFiles, string> = { rules: 'rules-state.json', spool: 'webhooks-pending.json', deadLetter: 'webhooks-dead-letter.jsonl' };

export async function apiStateFiles(config: ApiConfig, recordingDir: string, log: Logger): Promise<ApiStateFiles> {
  const set: Record<keyof ApiStateFiles, string | null> = { rules: config.rulesStateFile, spool: config.webhookSpoolFile, deadLetter: config.webhookDeadLetterFile };
  const out = {} as ApiStateFiles;
  for (const key of Object.keys(NAMES) as (keyof ApiStateFiles)[]) {
    const given = set[key];
    if (given !== null) {
      out[key] = given;
      continue;
    }
    const path = join(recordingDir, '.parley', NAMES[key]);
    await takeOverLegacy(join('.parley', NAMES[key]), path, log);
    out[key] = path;
  }
  return out;
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Moves the old default's file to its new place when it is there and the new place holds none. */
async function takeOverLegacy(legacy: string, path: string, log: Logger): Promise<void> {
  if (resolve(legacy) === resolve(path) || !(await exists(legacy)) || (await exists(path))) return;
  await mkdir(dirname(path), { recursive: true });
  try {
    await rename(legacy, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(legacy, path);
    await unlink(legacy);
  }
  log.info({ from: legacy, to: path }, 'API state file moved from the working folder to the recordings folder');
}
