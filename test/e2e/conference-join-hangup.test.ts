// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that hangs up while Parley is still joining it to a conference (its 200 sent, the
// room's legs for it still being made in the media thread): it is on the room's roster from the
// start of the join, and its call's end came before the join listened for it, so it stayed on the
// roster for ever, its legs and the room with it (seen in CI: a member that sent a REFER and its
// BYE right behind its answer stayed in the room). Each caller here hangs up a little later than
// the one before, across the join; every one must leave, and nothing may be left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { Member } from './conference-members.ts';
import { assertNothingLeft } from './leftovers.ts';
import { rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const CALLERS = 12;

describe('a caller that hangs up during its conference join', () => {
  const parley = rawParleyPerSuite(`
routing:
  rules: [{ name: room, match: { method: INVITE, media: audio }, actions: [{ app: conf }] }]
flows:
  conf:
    - answer
    - record: { action: start }
    - conference: { room: hurry, transfers: members }
`);

  it('leaves the room however early its BYE comes; the room closes and nothing is left', async () => {
    const p = parley();
    for (let i = 0; i < CALLERS; i++) {
      const ua = await RawSipClient.open();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      try {
        const d = new Member(ua, p.sipPort, `hurry${i}`);
        const ok = await d.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        // 0, 1, 2 … ms after the ACK: across the join (the roster entry, then the room's legs).
        if (i > 0) await new Promise((r) => setTimeout(r, i - 1));
        d.cseq++;
        d.send('BYE');
        assert.equal(statusOf(await d.finalTo(`${d.cseq} BYE`)), 200, `hurry${i}'s BYE`);
        await waitFor(`hurry${i} gone from the room`, async () => {
          const conf = await p.app.conferences!.get('hurry');
          return conf === undefined || !conf.roster.visible.some((e) => e.uri.includes(`hurry${i}@`));
        }, 5_000).catch(async (err: Error) => {
          const conf = await p.app.conferences!.get('hurry');
          throw new Error(`${err.message}: the roster holds ${JSON.stringify(conf?.roster.visible.map((e) => e.uri))}`);
        });
      } finally {
        ua.close();
        await phone.close();
      }
    }
    await waitFor('the room closed', async () => (await p.app.conferences!.get('hurry')) === undefined, 10_000);
    await assertNothingLeft(p);
  });
});
