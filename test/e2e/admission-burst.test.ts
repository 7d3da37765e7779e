// security.maxCalls under a burst (issue 12): a call counts from the moment it is
// accepted, so the cap holds exactly while earlier calls are still being set up;
// every call over it gets 503 with Retry-After, and nothing is left afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp } from '../helpers/sipp.ts';
import { received, SCENARIOS } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

const MAX_CALLS = 10;
const BURST = 60;

const yaml = `
routing:
  rules: [{ name: all, match: { method: INVITE, media: audio }, actions: [{ app: hold }] }]
flows:
  hold:
    - answer
    - play: { tone: "silence:4000" }
    - hangup
security: { maxCalls: ${MAX_CALLS} }
`;

describe('admission under a burst (SIPp, 60 calls at 200 calls/s, maxCalls 10)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'burst-')), 'rules.json')));
  });

  after(async () => {
    await parley?.stop();
  });

  it('never more than maxCalls at once, the rest refused with 503 + Retry-After, nothing left', async () => {
    const calls = parley.app.calls!;
    let maxAdmitted = 0;
    let maxActive = 0;
    calls.on('callstart', () => {
      maxAdmitted = Math.max(maxAdmitted, calls.admitted);
      maxActive = Math.max(maxActive, calls.active.size);
    });
    const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sipp = await startSipp({
      scenario: `${SCENARIOS}/caller-burst.xml`,
      transport: 'udp',
      remote: `127.0.0.1:${parley.sipPort}`,
      calls: BURST,
      rate: 200,
      timeoutS: 40,
      extra: ['-key', 'to_uri', 'sip:bob@127.0.0.1:9', '-key', 'rtpport', String(rtp.port), '-l', String(BURST), '-trace_msg'],
    });
    // What the API reports while the burst is on.
    let maxApi = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const r = await call(apiBase(parley), 'GET', '/calls');
        maxApi = Math.max(maxApi, (r.body as unknown[]).length);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const run = await sipp.done;
    polling = false;
    await poll;
    await rtp.close();
    const responses = received(run);
    const refused = responses.filter((m) => /^SIP\/2\.0 503 /m.test(m));
    const answered = responses.filter((m) => /^SIP\/2\.0 200 /m.test(m) && /^CSeq: 1 INVITE/m.test(m));
    assert.equal(run.code, 0, `every call ended as the scenario wants: ${run.errors.slice(0, 500)}`);
    assert.ok(maxApi <= MAX_CALLS, `GET /calls showed ${maxApi} calls at once`);
    assert.ok(maxAdmitted <= MAX_CALLS && maxActive <= MAX_CALLS, `admitted ${maxAdmitted}, running ${maxActive} at once`);
    assert.ok(answered.length >= MAX_CALLS, `${answered.length} calls answered: the cap was filled`);
    assert.equal(answered.length + refused.length, BURST, 'every INVITE got a 200 or a 503');
    assert.ok(refused.length >= BURST - 2 * MAX_CALLS, `${refused.length} refused`);
    for (const r of refused) assert.match(r, /^Retry-After: 5/m);
    await assertNothingLeft(parley);
  });
});
