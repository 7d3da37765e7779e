// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that hears nothing of Parley yet (a flow that records and bridges without
// answering first, compliance-record in the shipped parley.yaml) is told the callee rings:
// the callee's 180 gives the caller a 180 (its phone plays its own ringback, RFC 3261
// §13.3.1.1); before, it saw 100 Trying alone until the callee answered or the ring timeout.
// A caller already in Parley's early media gets no 180: it hears Parley's ringback.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { RawDialog, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const parley = rawParleyPerSuite(`
routing:
  rules:
    - { name: early, match: { method: INVITE, to: "sip:early@*" }, actions: [{ app: early }] }
    - { name: quiet, match: { method: INVITE, media: audio }, actions: [{ app: quiet }] }
flows:
  quiet:
    - record: { action: start }
    - bridge: { ringTimeout: 2 }
  early:
    - answer: { early: true }
    - bridge: { ringTimeout: 2 }
`);

/** A raw caller's INVITE to `user` (bridged to a SIPp callee that rings and never answers): every status Parley sent it. */
async function ringingCall(user: string): Promise<number[]> {
  const callee = await startCallee('callee-no-answer.xml', null);
  const ua = await RawSipClient.open();
  const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  try {
    const ended = nextCallEnd(parley());
    const c = new RawDialog(ua, parley().sipPort, `ring-${user}`, user, `sip:${user}@127.0.0.1:${callee.port}`);
    c.send('INVITE', phone.sdp());
    const seen: number[] = [];
    for (;;) {
      const m = await ua.nextMatching(/^SIP\/2\.0 \d{3} /, 15_000);
      const status = statusOf(m);
      if (!seen.includes(status)) seen.push(status);
      if (status >= 200) break;
    }
    c.ackFailure(1);
    sippOk(await callee.done, 'callee');
    await ended;
    await assertNothingLeft(parley());
    return seen;
  } finally {
    ua.close();
    await phone.close();
    callee.kill();
    await callee.rtp.close();
  }
}

describe('a bridge tells a caller that hears nothing yet that the callee rings', () => {
  it('recorded, not answered: the callee\'s 180 reaches the caller as 180, then the ring timeout\'s final answer', async () => {
    const seen = await ringingCall('bob');
    assert.ok(seen.includes(180), `statuses: ${seen.join(', ')}`);
    assert.ok(seen.indexOf(180) < seen.findIndex((s) => s >= 300), `180 before the final answer: ${seen.join(', ')}`);
  });

  it('in early media already: no 180 (the caller hears Parley\'s ringback in the 183\'s media)', async () => {
    const seen = await ringingCall('early');
    assert.ok(seen.includes(183), `statuses: ${seen.join(', ')}`);
    assert.ok(!seen.includes(180), `statuses: ${seen.join(', ')}`);
  });
});
