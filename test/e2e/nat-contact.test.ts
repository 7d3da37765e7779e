// A caller behind a NAT calling Parley directly: its Contact names an address Parley cannot
// reach (here a loopback port nobody listens on stands in for the phone's private address).
// With sip.natContact Parley sends the dialog's requests (the BYE when the flow hangs up) to
// where the INVITE came from, the Request-URI still the Contact; `never` sends them to the
// Contact, and `auto` only does the former for a private Contact behind a public source
// (unit nat-flow covers that; loopback has neither).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { assertNothingLeft } from './leftovers.ts';
import { flowYaml, okTo, RawDialog, replyTo, statusOf } from './raw-dialog.ts';
import { tempApiYaml } from '../helpers/api-client.ts';

const UNREACHABLE = 'sip:adv@127.0.0.1:9';

/** A raw caller whose Contact is an address that is not where it sends from. */
class NattedPhone extends RawDialog {
  override req(method: string, body = '', n = this.cseq, branchOf = method): string {
    return super.req(method, body, n, branchOf).replace(/\r\nContact: <sip:adv@127\.0\.0\.1:\d+>/, `\r\nContact: <${UNREACHABLE}>`);
  }
}

const YAML = flowYaml('short', '    - answer\n    - play: { tone: "silence:800" }\n    - hangup\n') + tempApiYaml('nat-');

for (const mode of ['always', 'never'] as const) {
  describe(`sip.natContact: ${mode}`, () => {
    it(mode === 'always' ? "the flow's BYE reaches the caller at the INVITE's source, to its Contact's URI" : "the flow's BYE goes to the Contact, not to the INVITE's source", async () => {
      const p = await startParley(YAML, { embedded: true, sip: [`natContact: ${mode}`] });
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
          await assert.rejects(ua.nextMatching(/^BYE /, 3000, d.callId), 'no BYE at the source');
        }
      } finally {
        ua.close();
        await phone.close();
        await p.stop();
      }
    });
  });
}
