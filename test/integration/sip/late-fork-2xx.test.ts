// A 2xx the UAC core does not want is ACKed and ended with a BYE (RFC 3261 §13.2.2.4, RFC 6026
// §7.2), also when it comes from another fork after the INVITE's transaction has moved on: after
// a non-2xx final response (the transaction in Completed, §17.1.1.2, absorbs only that response's
// retransmissions), and after the first fork's 2xx by more than 64*T1 (timer M ended the
// transaction: the 2xx matches nothing). Dropped, the late callee stayed in a call nobody hears.
// Small timers: T1 20 ms (64*T1 = 1.28 s), timer C 3 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RawSipClient, header } from '../../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../../helpers/relay-call.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

const T1 = 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `answer`'s response with the To tag of another fork. */
const fromFork = (res: string, tag: string): string => res.replace(/;tag=callee1/, `;tag=${tag}`);

describe("another fork's 2xx after the INVITE's transaction has a final response", () => {
  let h: Harness;
  let callee: RawSipClient;

  before(async () => {
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: T1, timerC: 3000 } });
  });
  after(() => {
    callee?.close();
    h.close();
  });

  /** The ACK and BYE the core sends for `fork`'s 2xx (asserted), the BYE answered. */
  async function ackedAndEnded(callId: string, fork: string): Promise<void> {
    const ack = await callee.nextMatching(/^ACK /, 3000, callId);
    assert.match(header(ack, 'To'), new RegExp(`tag=${fork}`), ack);
    const bye = await callee.nextMatching(/^BYE /, 3000, callId);
    assert.match(header(bye, 'To'), new RegExp(`tag=${fork}`), bye);
    callee.send(viaPort(bye), answer(bye, '200 OK'));
  }

  it('a 2xx after a 486 (transaction in Completed) is ACKed and ended with a BYE; the app has its 486 alone', async () => {
    callee = await RawSipClient.open();
    const uac = h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    const callId = header(invite, 'Call-ID');
    callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
    assert.equal((await uac)?.status, 486);
    await callee.nextMatching(/^ACK /, 3000, callId); // the transaction's, for the 486
    callee.send(viaPort(invite), fromFork(answer(invite, '200 OK', SDP, callee.port), 'fork2'));
    await ackedAndEnded(callId, 'fork2');
  });

  it("a second fork's 2xx more than 64*T1 after the first's (timer M over) is ACKed and ended with a BYE; the first dialog stays", async () => {
    callee?.close();
    callee = await RawSipClient.open();
    const uac = h.srf.createUAC(`sip:callee@127.0.0.1:${callee.port}`, { localSdp: SDP });
    const invite = await callee.nextMatching(/^INVITE /, 3000);
    const callId = header(invite, 'Call-ID');
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    const dialog = await uac;
    const first = await callee.nextMatching(/^ACK /, 3000, callId);
    assert.match(header(first, 'To'), /tag=callee1/);
    await sleep(64 * T1 + 500);
    callee.send(viaPort(invite), fromFork(answer(invite, '200 OK', SDP, callee.port), 'fork3'));
    await ackedAndEnded(callId, 'fork3');
    // The first fork's dialog is the app's still: its BYE is the app's to send.
    const bye = dialog.destroy();
    const appBye = await callee.nextMatching(/^BYE /, 3000, callId);
    assert.match(header(appBye, 'To'), /tag=callee1/);
    callee.send(viaPort(appBye), answer(appBye, '200 OK'));
    await bye;
  });
});
