// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that hangs up in an IVR step, by hand over UDP: as each step starts (the
// session's 'task' event) and while its prompt plays. Whatever the step (play, menu,
// collect), the BYE gets 200, the call's outcome (call.ended's reason) says the call
// ended under the flow ('call-ended', not 'completed'), and nothing of the call is left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { tempApiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertNothingLeft } from './leftovers.ts';
import { RawDialog } from './raw-dialog.ts';

const yaml =
  `
routing:
  rules: [{ name: ivr, match: { method: INVITE, media: audio }, actions: [{ app: ivr }] }]
flows:
  ivr:
    - answer
    - play: { prompt: menu-main }
    - menu: { prompt: { prompt: menu-main }, branches: { "1": next }, timeout: 10, retries: 0, fallback: bye }
  next:
    - collect: { prompt: { prompt: enter-pin }, into: pin, maxDigits: 1, timeout: 10 }
    - play: { text: "Thank you. Your call is important to us." }
    - hangup
  bye:
    - hangup
` + tempApiYaml('adv-ivr-hangup-');

/** Where the caller hangs up: the flow, the step, and whether it waits for the step's prompt to play a little. */
const points: [string, string, boolean][] = [
  ['ivr', 'play', false],
  ['ivr', 'play', true],
  ['ivr', 'menu', false],
  ['ivr', 'menu', true],
  ['next', 'collect', false],
  ['next', 'collect', true],
  ['next', 'play', false],
];

describe('adversary: an IVR caller that hangs up in each step', () => {
  const parley = parleyPerSuite(yaml);

  for (const [flow, step, mid] of points) {
    it(`${flow}.${step}, ${mid ? 'while its prompt plays' : 'as it starts'}: BYE 200, outcome call-ended, nothing left`, async () => {
      const p = parley();
      const calls = p.app.calls!;
      const ua = await RawSipClient.open();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const d = new RawDialog(ua, p.sipPort, `adv-ivr-${flow}-${step}-${mid}`, 'ivr');
      try {
        const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
        const ended = new Promise<{ flow: string; reason: string }>((resolve) => calls.once('callend', (_a, o) => resolve(o)));
        const invite = d.invite(phone.sdp());
        const c = await started;
        const reached = new Promise<void>((resolve) =>
          c.session.on('task', (s: string, f: string) => {
            // The menu's 1 leads to 'next'.
            if (s === 'menu' && !(flow === 'ivr' && step === 'menu')) phone.queueDtmf('1', 120);
            // The PIN's one digit leads on to the closing play.
            if (s === 'collect' && step === 'play' && flow === 'next') phone.queueDtmf('4', 120);
            if (s === step && f === flow) resolve();
          }),
        );
        const res = await invite;
        assert.match(res, /^SIP\/2\.0 200 /);
        phone.useRemoteSdp(res.split('\r\n\r\n')[1]!);
        phone.start({ kind: 'silence' });
        await reached;
        if (mid) {
          const n = phone.received.length + 10;
          await waitFor('the prompt playing', () => phone.received.length >= n || undefined, 10_000);
        }
        d.cseq++;
        d.send('BYE', '', d.cseq);
        assert.match(await d.finalTo(`${d.cseq} BYE`), /^SIP\/2\.0 200 /);
        assert.deepEqual(await ended, { flow, reason: 'call-ended' });
        await assertNothingLeft(p);
      } finally {
        ua.close();
        await phone.close();
      }
    });
  }
});
