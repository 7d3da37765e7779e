// The API's state files: each key's own path when set, else under
// <recording.dir>/.parley/ (not the working folder, which two Parleys may share);
// a file the old default left in the working folder is moved there once.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { apiStateFiles } from '../../../src/api/state-files.ts';
import { defaultApi, type ApiConfig } from '../../../src/config/api-schema.ts';
import { createLogger } from '../../../src/util/logger.ts';

const log = createLogger({ level: 'silent', pretty: false });
const api = (o: Partial<ApiConfig> = {}): ApiConfig => ({ ...defaultApi, ...o });

describe('API state files', () => {
  const work = mkdtempSync(join(tmpdir(), 'parley-state-'));
  process.chdir(work);

  it('default to the recordings folder, not the working folder', async () => {
    const f = await apiStateFiles(api(), 'rec-a', log);
    assert.deepEqual(f, { rules: join('rec-a', '.parley', 'rules-state.json'), spool: join('rec-a', '.parley', 'webhooks-pending.json'), deadLetter: join('rec-a', '.parley', 'webhooks-dead-letter.jsonl') });
    assert.equal(existsSync(join(work, '.parley')), false);
  });

  it('are the keys given when set', async () => {
    const f = await apiStateFiles(api({ rulesStateFile: '/x/r.json', webhookSpoolFile: '/x/s.json', webhookDeadLetterFile: '/x/d.jsonl' }), 'rec-a', log);
    assert.deepEqual(f, { rules: '/x/r.json', spool: '/x/s.json', deadLetter: '/x/d.jsonl' });
  });

  it('take over what the old default left in the working folder, once, and never over a file already in place', async () => {
    mkdirSync('.parley', { recursive: true });
    writeFileSync('.parley/rules-state.json', '{"global":{"a":false}}');
    writeFileSync('.parley/webhooks-pending.json', 'old spool');
    mkdirSync('rec-b/.parley', { recursive: true });
    writeFileSync('rec-b/.parley/webhooks-pending.json', 'new spool');
    const f = await apiStateFiles(api(), 'rec-b', log);
    assert.equal(readFileSync(f.rules, 'utf8'), '{"global":{"a":false}}');
    assert.equal(existsSync('.parley/rules-state.json'), false, 'moved, not copied');
    assert.equal(readFileSync(f.spool, 'utf8'), 'new spool');
    assert.equal(readFileSync('.parley/webhooks-pending.json', 'utf8'), 'old spool', 'left where it was');
    assert.equal(existsSync(f.deadLetter), false);
  });

  it('leave a recordings folder that is the working folder alone', async () => {
    const f = await apiStateFiles(api(), '.', log);
    assert.equal(resolve(f.spool), resolve(work, '.parley', 'webhooks-pending.json'));
    assert.equal(readFileSync(f.spool, 'utf8'), 'old spool');
  });
});
