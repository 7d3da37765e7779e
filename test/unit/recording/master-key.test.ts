// The master key: raw, hex or base64; every mistake named with its key.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadMasterKey, masterKeyId, parseMasterKey } from '../../../src/recording/encryption/master-key.ts';

describe('master key', () => {
  const key = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), 'parley-mk-'));

  it('reads raw, hex and base64 to the same key and id', async () => {
    writeFileSync(join(dir, 'raw'), key);
    writeFileSync(join(dir, 'hex'), key.toString('hex') + '\n');
    for (const f of ['raw', 'hex']) {
      const m = await loadMasterKey({ masterKeyFile: join(dir, f) });
      assert.deepEqual(m.key, key);
      assert.equal(m.id, masterKeyId(key));
    }
    const m = await loadMasterKey({ masterKeyEnv: 'K' }, { K: key.toString('base64') });
    assert.deepEqual(m.key, key);
    assert.match(m.id, /^[0-9a-f]{16}$/);
  });

  it('names the key and the problem', async () => {
    await assert.rejects(loadMasterKey({ masterKeyFile: join(dir, 'nope') }), /recording\.encryption\.masterKeyFile: cannot read .*nope/);
    await assert.rejects(loadMasterKey({ masterKeyEnv: 'MISSING' }, {}), /recording\.encryption\.masterKeyEnv: the environment variable MISSING is not set/);
    assert.throws(() => parseMasterKey(Buffer.from('abcd'), 'where'), /where: a master key is 32 bytes/);
    assert.throws(() => parseMasterKey(randomBytes(31), 'where'), /a master key is 32 bytes/);
  });
});
