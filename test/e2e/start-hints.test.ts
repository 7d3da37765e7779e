// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// `parley start` says, once running, where to point a phone, where recordings go and where
// the API answers (or how to turn it on): a newcomer following the README needs all three.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnParley } from '../helpers/parley-process.ts';

describe('parley start: the "running" line', () => {
  it('names the SIP address, the recordings folder (absolute) and that the API is off', async () => {
    const p = await spawnParley('');
    try {
      const line = await p.logged(/Parley is running/);
      assert.match(String(line.sip), new RegExp(`udp/127\\.0\\.0\\.1:${p.sipPort}`));
      assert.equal(line.recordings, p.recordings);
      assert.match(String(line.api), /^off \(set api\.enabled and api\.token in .*parley\.yaml\)$/);
      // The demo call goes to 127.0.0.1:5060 and lists ./recordings unless told: the suggestion names this port and folder.
      assert.ok(String(line.tryIt).startsWith(`bash scripts/demo-call.sh 127.0.0.1:${p.sipPort} ${p.recordings} `), String(line.tryIt));
    } finally {
      p.child.kill('SIGINT');
    }
  });

  it('with the API on: its URL (the port it bound) and the console', async () => {
    const p = await spawnParley('api: { enabled: true, host: 127.0.0.1, port: 0, token: a-token-of-sixteen-chars }');
    try {
      const line = await p.logged(/Parley is running/);
      const listening = await p.logged(/control API listening/);
      assert.match(String(listening.url), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(line.api, `${String(listening.url)} (header Authorization: Bearer <api.token>)`);
      assert.equal(line.console, `${String(listening.url)}/console/`);
    } finally {
      p.child.kill('SIGINT');
    }
  });
});
