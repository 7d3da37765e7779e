// A phone that sends each key twice, as SIP INFO and as RFC 4733 events (linphonec with
// use_info=1 keeps its RFC 2833 on; desk phones offer "RFC 2833 + SIP INFO"), pressed a key
// once. Its INFO digit was the leg's digit on the main thread, its RFC 4733 digit came from the
// media thread, and nothing paired the two: the menu collected each key twice (linphonec's
// `4321#` came in as `44321`, the wrong PIN). The same digit from the other carrier within the
// key's time is now taken once (src/dtmf/cross-source-repeats.ts, on every leg).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { medianToneShare } from '../helpers/audio-analysis.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { RawDialog, statusOf } from './raw-dialog.ts';

const yaml = `
routing:
  rules:
    - name: pin
      match: { method: INVITE, media: audio }
      actions: [{ app: pin }]
flows:
  pin:
    - answer
    - menu:
        prompt: { tone: "silence:100" }
        maxDigits: 8
        terminator: "#"
        branches: { "4321": joined }
        retries: 0
        timeout: 20
        fallback: wrong
  joined:
    - play: { tone: beep }
    - play: { tone: beep }
    - play: { tone: beep }
    - hangup
  wrong:
    - hangup
`;

describe('DTMF sent both as SIP INFO and RFC 4733', () => {
  const parley = parleyPerSuite(yaml);

  it('a PIN keyed on such a phone is taken once per key: 4321# opens the branch, whose beep the phone hears', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const d = new RawDialog(ua, parley().sipPort, 'both-carriers', 'pin');
    try {
      const ended = nextCallEnd(parley(), 60_000);
      const ok = await d.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok.split('\r\n')[0]);
      phone.useRemoteSdp(ok.split('\r\n\r\n')[1]!);
      phone.start();
      await phone.waitForPackets(5);
      const heardFrom = phone.received.length;
      for (const digit of '4321#') {
        // Both carriers of one key press, as the phone sends them: the INFO, and the key's events in the stream.
        phone.queueDtmf(digit, 120);
        d.cseq++;
        d.sendText(d.req('INFO', `Signal=${digit}\r\nDuration=120\r\n`).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
        // Its answer (a 481 once a wrong PIN ended the call: the flow says so below).
        await d.finalTo(`${d.cseq} INFO`);
        await waitFor(`the events of ${digit} sent`, () => phone.pendingDigits === 0 || undefined, 10_000);
      }
      const { outcome } = await ended;
      assert.equal(outcome.flow, 'joined', `the flow the call ended in (${outcome.flow}): the PIN was taken as it was keyed`);
      const heard = phone.decoded(heardFrom);
      const share = medianToneShare(heard, 1000, 8000);
      assert.ok(share > 0.3, `the branch's 1 kHz beep in what the phone heard: ${share.toFixed(2)}`);
    } finally {
      ua.close();
      await phone.close();
    }
  });
});
