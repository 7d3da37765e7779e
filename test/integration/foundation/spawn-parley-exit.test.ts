// The test helper spawnParley (test/helpers/parley-process.ts) gives up at once when the Parley it
// started ends before it is running, with the exit code and what the process said on stderr; it
// waited its whole 60 s start-up guard before, and then said only which line it had not seen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnParley } from '../../helpers/parley-process.ts';

describe('spawnParley: a Parley that exits before it runs', () => {
  it('fails with its exit code and the config key its stderr names', async () => {
    await assert.rejects(spawnParley('', { media: 'bogusKey: 3' }), (err: Error) => {
      assert.match(err.message, /parley ended \(exit code 2\) first/);
      assert.match(err.message, /media\.bogusKey: unknown key/);
      return true;
    });
  });

  it('a later wait for a line it never logged fails the same way once it has exited', async () => {
    const p = await spawnParley('');
    const exited = new Promise((ok) => p.child.once('close', ok));
    p.child.kill('SIGTERM');
    await exited;
    await assert.rejects(p.logged(/a line Parley never logs/), /not logged: .*parley ended \((exit code \d+|signal SIGTERM)\) first/);
  });
});
