// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Admission on the wire: only configured upstreams may reach the default routing
// endpoint (403 for others); the call cap answers 503 with Retry-After.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { received, sippOk, startCallee, startCaller } from './helpers.ts';

const flows = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: gw }]
flows:
  gw:
    - answer: { early: true }
    - bridge: { ringTimeout: 10 }
`;

describe('admission on the wire (SIPp)', () => {
  const running: RunningParley[] = [];

  after(async () => {
    for (const p of running) await p.stop();
  });

  it('a caller that is not a configured upstream gets 403', async () => {
    const parley = await startParley(flows + 'security: { upstreams: [10.0.0.0/8] }\n');
    running.push(parley);
    const caller = await startCaller(parley, 'caller-expect-403.xml', 'sip:bob@127.0.0.1:9');
    sippOk(await caller.done, 'caller');
    assert.equal(parley.app.media!.roomCount, 0, 'no media was set up');
    await caller.rtp.close();
  });

  it('with digest configured, a non-upstream caller is challenged (401) and gets in with the right password', async () => {
    const parley = await startParley(
      'routing:\n  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: hello }] }]\n' +
        'flows:\n  hello: [answer, { play: { tone: beep } }, hangup]\n' +
        'security: { upstreams: [10.0.0.0/8], digest: { realm: parley, users: { alice: wonderland } } }\n',
    );
    running.push(parley);
    const anonymous = await startCaller(parley, 'caller-expect-401.xml', 'sip:bob@127.0.0.1:9');
    const anonRun = await anonymous.done;
    sippOk(anonRun, 'caller without credentials');
    assert.match(received(anonRun).find((m) => /SIP\/2\.0 401/.test(m)) ?? '', /^WWW-Authenticate: Digest realm="parley", nonce="[^"]+", algorithm=MD5, qop="auth"/m);
    const alice = await startCaller(parley, 'caller-auth.xml', 'sip:bob@127.0.0.1:9', { extra: ['-au', 'alice', '-ap', 'wonderland'] });
    sippOk(await alice.done, 'caller with credentials');
    assert.ok(alice.rtp.received.length > 5, 'the authenticated call had media');
    await anonymous.rtp.close();
    await alice.rtp.close();
  });

  it('past security.maxLegsPerRoom a conference join is refused with 503 before answer', async () => {
    const parley = await startParley(
      'routing:\n  rules: [{ name: conf, match: { method: INVITE, media: audio }, actions: [{ app: conf }] }]\n' +
        'flows:\n  conf: [{ conference: { room: small } }]\n' +
        'security: { maxLegsPerRoom: 1 }\n',
    );
    running.push(parley);
    const first = await startCaller(parley, 'caller-conf.xml', 'sip:small@127.0.0.1:9', { fromUser: 'first', toneHz: 440, pauseMs: 3000 });
    await first.rtp.waitForPackets(10, 10_000);
    const second = await startCaller(parley, 'caller-conf-expect-503.xml', 'sip:small@127.0.0.1:9', { fromUser: 'second' });
    sippOk(await second.done, 'second caller');
    assert.equal((await parley.app.conferences!.get('small'))?.roster.size, 1, 'the room still holds only the first leg');
    sippOk(await first.done, 'first caller');
    await first.rtp.close();
    await second.rtp.close();
  });

  it('past security.maxCalls a new call gets 503 with Retry-After, and the running one is untouched', async () => {
    const parley = await startParley(flows + 'security: { maxCalls: 1 }\n');
    running.push(parley);
    const callee = await startCallee('callee.xml', 1000);
    const first = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: 2500 });
    await callee.rtp.waitForPackets(30, 10_000);
    const second = await startCaller(parley, 'caller-expect-503.xml', 'sip:carol@127.0.0.1:9');
    const run = await second.done;
    sippOk(run, 'second caller');
    assert.match(received(run).find((m) => /SIP\/2\.0 503/.test(m)) ?? '', /^Retry-After: 5/m);
    sippOk(await first.done, 'first caller');
    sippOk(await callee.done, 'callee');
    await first.rtp.close();
    await second.rtp.close();
    await callee.rtp.close();
  });
});
