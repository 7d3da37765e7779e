// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller behind a NAT calling Parley directly: its Contact names an address Parley cannot
// reach (here a loopback port nobody listens on stands in for the phone's private address).
// With sip.natContact Parley sends the dialog's requests (the BYE when the flow hangs up) to
// where the INVITE came from, the Request-URI still the Contact; `never` sends them to the
// Contact, and `auto` only does the former for a private Contact behind a public source
// (unit nat-flow covers that; loopback has neither). A callee Parley dials whose 200 names
// such a Contact gets the ACK where the INVITE reached it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { assertNothingLeft } from './leftovers.ts';
import { okTo, RawDialog, replyTo, responseTo, statusOf } from './raw-dialog.ts';
import { tempApiYaml } from '../helpers/api-client.ts';

const UNREACHABLE = 'sip:adv@127.0.0.1:9';

/** A raw caller whose Contact is an address that is not where it sends from. */
class NattedPhone extends RawDialog {
  override req(method: string, body = '', n = this.cseq, branchOf = method): string {
    return super.req(method, body, n, branchOf).replace(/\r\nContact: <sip:adv@127\.0\.0\.1:\d+>/, `\r\nContact: <${UNREACHABLE}>`);
  }
}

const YAML = `
routing:
  rules:
    - { name: out, match: { method: INVITE, to: "sip:callee@*" }, actions: [{ app: out }] }
    - { name: short, match: { method: INVITE, media: audio }, actions: [{ app: short }] }
flows:
  short:
    - answer
    - play: { tone: "silence:800" }
    - hangup
  out:
    - answer
    - bridge: { ringTimeout: 10 }
` + tempApiYaml('nat-');

for (const mode of ['always', 'never'] as const) {
  describe(`sip.natContact: ${mode}`, () => {
    const parley = parleyPerSuite(YAML, { embedded: true, sip: [`natContact: ${mode}`] });
    it(mode === 'always' ? "the flow's BYE reaches the caller at the INVITE's source, to its Contact's URI" : "the flow's BYE goes to the Contact, not to the INVITE's source", async () => {
      const p = parley();
      const ua = await RawSipClient.open();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      try {
        const d = new NattedPhone(ua, p.sipPort, `nat-${mode}`, 'nat');
        const ok = await d.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        if (mode === 'always') {
          const bye = await ua.nextMatching(/^BYE /, 10_000, d.callId);
          assert.match(bye, new RegExp(`^BYE ${UNREACHABLE.replace(/\./g, '\\.')} SIP/2\\.0\\r\\n`), 'the Request-URI is still the Contact');
          replyTo(ua, bye, okTo(bye));
          await assertNothingLeft(p);
        } else {
          await assert.rejects(ua.nextMatching(/^BYE /, 2000, d.callId), 'no BYE at the source');
        }
      } finally {
        ua.close();
        await phone.close();
      }
    });

    it(mode === 'always' ? "a callee whose 200's Contact is not where it answered from gets Parley's ACK where the INVITE went" : "a callee's ACK goes to its 200's Contact", async () => {
      const p = parley();
      const callerUa = await RawSipClient.open();
      const calleeUa = await RawSipClient.open();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const callee = await new RtpPeer({ codec: 'PCMU' }).bind();
      try {
        const d = new RawDialog(callerUa, p.sipPort, `nat-uac-${mode}`, 'callee', `sip:callee@127.0.0.1:${calleeUa.port}`);
        d.send('INVITE', phone.sdp());
        const invite = await calleeUa.nextMatching(/^INVITE /, 10_000);
        // Its Contact is a port nobody listens on: the address behind its NAT.
        replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'natted', callee.sdp(), 9));
        const callId = header(invite, 'Call-ID');
        if (mode === 'always') {
          const ack = await calleeUa.nextMatching(/^ACK /, 10_000, callId);
          assert.match(ack, /^ACK sip:callee@127\.0\.0\.1:9 SIP\/2\.0\r\n/, 'the Request-URI is still the Contact');
        } else {
          await assert.rejects(calleeUa.nextMatching(/^ACK /, 1500, callId), 'no ACK where the INVITE went');
        }
      } finally {
        callerUa.close();
        calleeUa.close();
        await phone.close();
        await callee.close();
      }
    });
  });
}
