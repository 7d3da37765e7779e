// The web console ships built (web/console/dist, committed): a fresh build of
// web/console/src must give exactly those files, or someone changed the sources
// without `npm run build:console`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { staleConsoleFiles } from '../../../scripts/build-console.ts';

describe('web console build', () => {
  it('web/console/dist is what the sources build to', async () => {
    const stale = await staleConsoleFiles();
    assert.deepEqual(stale, [], `run npm run build:console:\n${stale.join('\n')}`);
  });
});
