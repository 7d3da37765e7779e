// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that ends an early dialog with a BYE (RFC 3261 §15 allows it; some phones hang
// up so after a reliable 183 instead of sending CANCEL). Here the delayed-offer caller gets
// Parley's offer in a reliable 183 and sends BYE in that early dialog. The BYE got 404
// from drachtio-srf (no dialog it knew), the INVITE stayed pending and the flow went on
// (a notice to nobody, a callee dialled) until the INVITE timed out. The BYE now gets 200,
// the INVITE 487 (§15.1.2), and the call is over at once. Other requests in the early dialog
// (an INFO) went through the rule chain as new requests and were proxied (500); now the call
// whose early dialog it is answers it (RFC 6086 §4.2: INFO may be sent in an early dialog).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { gatewayYaml } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

// Not through a real drachtio-server 0.9.10 (PARLEY_TEST_VIA_DRACHTIO): it binds a dialog to its app
// only at the 200, so requests in the early dialog of a reliable 183 find no app. The INFO is routed
// as a new request and its transaction destroyed unanswered, which sends 500 (an app's answer is then
// dropped: "unable to forward response"); the BYE gets 481 from the server, and the app hears of
// neither, so the INVITE stays pending (no 487) until the caller cancels or calls.maxUnansweredSec.
// No server setting changes this (SipDialogController::processRequestInsideDialog).
const REAL = 'a real drachtio-server 0.9.10 answers requests in an early dialog itself (INFO 500, BYE 481) and never tells the app';
describe('adversary: BYE in an early dialog (delayed offer, reliable 183)', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = parleyPerSuite(
    gatewayYaml('early', ['answer: { early: true }', 'play: { tone: beep }', 'collect: { into: x, maxDigits: 1, timeout: 60 }']) +
      apiYaml(join(mkdtempSync(join(tmpdir(), 'adv-early-bye-')), 'rules.json')),
  );

  it('an INFO in it is answered 200 by its call (never re-routed); the BYE gets 200, the INVITE 487, and nothing of the call is left', async () => {
    const ua = await RawSipClient.open();
    const sipPort = parley().sipPort;
    const callId = `adv-early-bye-${process.pid}@127.0.0.1`;
    const head = (method: string, seq: number, branch: string, toTag = ''): string[] => [
      `${method} sip:early@127.0.0.1:${sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=${branch}`,
      'Max-Forwards: 70',
      `From: <sip:adv@127.0.0.1>;tag=adv-${process.pid}`,
      `To: <sip:early@127.0.0.1>${toTag ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${seq} ${method}`,
      `Contact: <sip:adv@127.0.0.1:${ua.port}>`,
    ];
    try {
      // An INVITE without SDP from a caller that supports 100rel: Parley's offer comes in a reliable 183.
      ua.send(sipPort, [...head('INVITE', 1, 'z9hG4bK-earlybye-inv'), 'Supported: 100rel', 'Content-Length: 0', '', ''].join('\r\n'));
      const progress = await ua.nextMatching(/^SIP\/2\.0 183 /, 15_000);
      assert.match(progress, /\r\nRequire: *100rel/i);
      assert.match(progress, /^m=audio /m, 'the 183 carries Parley\'s offer');
      const toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(progress)![1];

      // An INFO in the early dialog is no new request to route: before, the rule chain proxied it to its
      // Request-URI (Parley itself) and it got 500; its call takes it (a digit no menu waits for).
      const info = 'Signal=5\r\nDuration=160\r\n';
      ua.send(sipPort, [...head('INFO', 2, 'z9hG4bK-earlybye-info', toTag), 'Content-Type: application/dtmf-relay', `Content-Length: ${info.length}`, '', info].join('\r\n'));
      const infoRes = await ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.match(infoRes, /^SIP\/2\.0 200 [\s\S]*\r\nCSeq: *2 INFO\r\n/i);

      ua.send(sipPort, [...head('BYE', 3, 'z9hG4bK-earlybye-bye', toTag), 'Content-Length: 0', '', ''].join('\r\n'));
      const seen: string[] = [];
      const statusOf = (cseq: string): string | undefined => seen.find((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m) && new RegExp(`\\r\\nCSeq: *${cseq}\\r\\n`, 'i').test(m))?.split(' ')[1];
      while (!statusOf('3 BYE') || !statusOf('1 INVITE')) seen.push(await ua.next(10_000));
      assert.equal(statusOf('3 BYE'), '200', 'the BYE is answered 200');
      assert.equal(statusOf('1 INVITE'), '487', 'the INVITE is ended with 487');
      ua.send(sipPort, [...head('ACK', 1, 'z9hG4bK-earlybye-inv', toTag), 'Content-Length: 0', '', ''].join('\r\n'));
      await assertNothingLeft(parley());
    } finally {
      ua.close();
    }
  });
});
