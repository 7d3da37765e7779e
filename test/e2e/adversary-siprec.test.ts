// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Attacks on Parley as a SIPREC recording server from a recording client (SRC) that
// did not write it, driven by hand over UDP: a session that sends metadata version
// after version. Every file in the recordings folder must be one the sidecar lists
// (hashed, signed, served, deleted by retention with the rest); a version the
// sidecar cannot list any more must not reach the disk.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { finalSidecar, metadata, multipart, RawSrc, sdp } from './adversary-src.ts';
import { SIPREC_ROUTING } from './siprec-helpers.ts';

describe('adversary: a SIPREC client', () => {
  const parley = parleyPerSuite(SIPREC_ROUTING);

  it('metadata version after version (250 UPDATEs): each answered 200, and no metadata file reaches the disk that the sidecar does not list', async () => {
    const p = parley();
    const calls = p.app.calls!;
    const ua = await RawSipClient.open();
    try {
      const src = new RawSrc(ua, p.sipPort);
      const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
      const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
      assert.equal(await src.invite(multipart([['application/sdp', sdp(40_000)], ['application/rs-metadata+xml', metadata(1)]])), 200);
      const call = await started;
      await waitFor('the session recording', () => call.call.activeRecording ?? undefined, 10_000);
      const updates = 250;
      for (let n = 2; n <= updates + 1; n++) {
        assert.equal(await src.request('UPDATE', 'application/rs-metadata+xml', metadata(n)), 200, `UPDATE ${n}`);
      }
      assert.equal(await src.request('BYE', null), 200);
      await ended;
      const meta = await finalSidecar(p, src.callId);
      const listed = new Set((meta.siprec?.metadataVersions ?? []).map((v) => v.file));
      // The recording's id: what its metadata files are named after.
      const id = [...listed][0]!.replace(/\.metadata-\d+\.xml$/, '');
      const onDisk = readdirSync(p.recordingDir).filter((f) => f.startsWith(`${id}.metadata-`));
      const unlisted = onDisk.filter((f) => !listed.has(f));
      assert.deepEqual(unlisted, [], `${unlisted.length} metadata files on disk that the sidecar does not list (of ${onDisk.length})`);
      assert.ok(listed.size >= 100, `the first versions are kept: ${listed.size}`);
      for (const f of listed) assert.ok(onDisk.includes(f), `${f} is listed and on disk`);
      assert.ok(
        meta.siprec!.problems.some((x) => /not kept/.test(x)),
        `the sidecar says versions were not kept: ${JSON.stringify(meta.siprec!.problems)}`,
      );
    } finally {
      ua.close();
    }
  });
});
