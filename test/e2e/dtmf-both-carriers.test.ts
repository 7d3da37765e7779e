// A phone that sends each key twice, as SIP INFO and as RFC 4733 events (linphonec with
// use_info=1 keeps its RFC 2833 on; desk phones offer "RFC 2833 + SIP INFO"), pressed a key
// once. Its INFO digit was the leg's digit on the main thread, its RFC 4733 digit came from the
// media thread, and nothing paired the two: the menu collected each key twice (linphonec's
// `4321#` came in as `44321`, the wrong PIN). The same digit from the other carrier within the
// key's time is now taken once (src/dtmf/cross-source-repeats.ts, on every leg). In a bridge the
// other party got such a key twice, or three times: the phone's events relayed as they came, and
// the INFO played to it as events of Parley's. An INFO from a party with telephone-event now waits
// for its key's events, and is played only when none come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { medianToneShare } from '../helpers/audio-analysis.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import type { RtpPacket } from '../helpers/rtp.ts';
import { flowYaml, rawBridgedCall, rawParleyPerSuite, RawDialog, statusOf } from './raw-dialog.ts';

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

/** The keys in a peer's telephone-event packets (payload type `pt`): one per event (its timestamp), with whether its end came. */
function keysIn(received: RtpPacket[], pt: number): { digit: number; ended: boolean }[] {
  const byTs = new Map<number, RtpPacket[]>();
  for (const p of received) if (p.payloadType === pt) byTs.set(p.timestamp, [...(byTs.get(p.timestamp) ?? []), p]);
  return [...byTs.values()].map((ps) => ({ digit: ps[0]!.payload[0]!, ended: ps.some((x) => (x.payload[1]! & 0x80) !== 0) }));
}

describe('DTMF sent both as SIP INFO and RFC 4733, through a bridge', () => {
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10 }\n'));

  it('the callee gets a key the caller sent both ways once, and a key sent as INFO alone once', async () => {
    const callerUa = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU', dtmfPt: 100 }).bind();
    const callee = await new RtpPeer({ codec: 'PCMU', dtmfPt: 101, latch: true }).bind();
    try {
      const { c } = await rawBridgedCall({ sipPort: parley().sipPort, name: 'both-bridge', user: 'agent', callerUa, calleeUa, caller, callee, callerHz: 1000, calleeHz: 600, calleeTag: 'both-callee' });
      await caller.waitForPackets(10);
      await callee.waitForPackets(10);
      const info = async (digit: string): Promise<void> => {
        c.cseq++;
        c.sendText(c.req('INFO', `Signal=${digit}\r\nDuration=120\r\n`).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
        assert.equal(statusOf(await c.finalTo(`${c.cseq} INFO`)), 200, `the INFO of ${digit}`);
      };
      // 5: both carriers at once, as the phone sends a key press.
      caller.queueDtmf('5', 120);
      await info('5');
      await waitFor('the events of 5 sent', () => caller.pendingDigits === 0 || undefined, 10_000);
      // 7: INFO alone. Played after 5's INFO would have been (the same wait, later): once 7 is in, 5 is settled.
      await info('7');
      await waitFor('the callee got 7, ended', () => keysIn(callee.received, 101).some((k) => k.digit === 7 && k.ended) || undefined, 10_000);
      assert.deepEqual(keysIn(callee.received, 101).map((k) => k.digit), [5, 7], 'the keys the callee got, one event each');
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
    } finally {
      callerUa.close();
      calleeUa.close();
      await caller.close();
      await callee.close();
    }
  });
});
