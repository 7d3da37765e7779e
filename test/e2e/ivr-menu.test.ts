// The example IVR menu driven by a SIPp caller: a digit sent as RFC 4733 in the
// RTP stream takes one branch, a digit sent as SIP INFO (application/dtmf-relay)
// takes the other. The branch is seen in the flow Parley ran and heard as audio.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { nextCallEnd, sippOk, startCaller } from './helpers.ts';

const yaml = `
routing:
  rules:
    - name: ivr
      match: { method: INVITE, media: audio }
      actions: [{ app: main-menu }]
flows:
  main-menu:
    - answer
    - menu:
        prompt: { prompt: menu-main }
        branches: { "1": sales, "2": support }
        retries: 0
        timeout: 8
        fallback: goodbye
  sales:
    - play: { tone: "silence:200" }
    - play: { text: "Sales." }
    - hangup
  support:
    - play: { tone: beep }
    - hangup
  goodbye:
    - hangup
`;

describe('IVR menu over SIP (SIPp caller; RFC 4733 and SIP INFO digits)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml);
  });

  after(async () => {
    await parley?.stop();
  });

  it('a 1 sent as RFC 4733 during the menu prompt goes to sales', async () => {
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', 'sip:ivr@127.0.0.1:5999');
    await caller.rtp.waitForPackets(25);
    caller.rtp.queueDtmf('1', 120);
    sippOk(await caller.done, 'caller');
    const { outcome } = await ended;
    assert.equal(outcome.flow, 'sales');
    assert.equal(outcome.reason, 'completed');
    await caller.rtp.close();
  });

  it('a 2 sent as SIP INFO goes to support, which plays its beep before hanging up', async () => {
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-info.xml', 'sip:ivr@127.0.0.1:5999', { digit: '2', pauseMs: 800 });
    sippOk(await caller.done, 'caller');
    const { outcome } = await ended;
    assert.equal(outcome.flow, 'support');
    // The last thing the caller heard before the BYE is the 1 kHz beep.
    const heard = caller.rtp.decoded();
    const beepWindow = 8000 * 0.2;
    let best = 0;
    for (let s = Math.max(0, heard.length - 8000 * 2); s + beepWindow <= heard.length; s += 160) {
      best = Math.max(best, purity(heard, 8000, 1000, s, beepWindow));
    }
    assert.ok(best > 0.8, `beep purity near the end ${best.toFixed(3)}`);
    await caller.rtp.close();
  });
});
