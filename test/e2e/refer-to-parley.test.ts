// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A bridged callee transfers the caller to a flow on this very Parley (an agent sends the
// customer to a menu): the REFER's target is Parley's own address. Placed with the loop marker
// (as every leg Parley places), that INVITE came back to Parley marked, was proxied on to its
// Request-URI, Parley again, and failed 482: the transferor got NOTIFY 482 and the caller
// stayed with it. Now it goes unmarked, Parley's rules give it to the menu's flow as a new
// call, and the caller, still in its own call and recording, hears the menu through it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { received, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { rawCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const CALLER_HZ = 700;
const AGENT_HZ = 600;
const MENU_HZ = 1000; // flow 'menu' plays beeps (1 kHz)

const YAML = `
routing:
  rules:
    - { name: menu, match: { method: INVITE, media: audio }, scope: { user: 'sip:menu@*' }, actions: [{ app: menu }] }
    - { name: xfer, match: { method: INVITE, media: audio }, actions: [{ app: xfer }] }
flows:
  xfer:
    - answer
    - record: { action: start }
    - bridge: { ringTimeout: 10 }
  menu:
    - answer
${'    - play: { tone: beep }\n'.repeat(40)}`;

describe('a transfer to a flow on Parley itself', () => {
  const parley = rawParleyPerSuite(YAML);
  let round = 0;

  it('the caller is connected to the flow the target routes to', () => transferTo(`sip:menu@127.0.0.1:${parley().sipPort}`));

  // Named by a name that resolves to it (as a phone names a server by its DNS name), not by the address the call came in on.
  it('the same with the target naming Parley by a name (localhost)', () => transferTo(`sip:menu@localhost:${parley().sipPort}`));

  async function transferTo(referTo: string): Promise<void> {
    const agent = await startCallee('callee-refer.xml', AGENT_HZ, ['-key', 'refer_to', referTo]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      await rawCall(parley(), { name: `xfer-self-${++round}`, user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        const before = await comesToHear(phone, AGENT_HZ, 0);
        assert.ok(before.ok, `the caller hears the agent before the transfer: ${before.detail}`);
        const run = await agent.done;
        sippOk(run, 'the transferor (202, NOTIFY 100 Trying, NOTIFY 200 OK, then its BYE)');
        assert.ok(!received(run).some((m) => /^NOTIFY /m.test(m) && /SIP\/2\.0 482/.test(m)), 'no NOTIFY 482');
        const after = await comesToHear(phone, MENU_HZ, phone.received.length);
        assert.ok(after.ok, `the caller hears the menu: ${after.detail}`);
        const calls = parley().app.calls!;
        assert.equal(calls.active.size, 2, "the caller's call and the menu's (Parley's own leg to itself)");
        const callerCall = [...calls.active.values()].find((a) => a.call.callId === c.callId);
        assert.ok(callerCall, "the caller's call goes on");
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        // The caller's end ends the menu's call too (Parley's BYE to itself), and leaves nothing.
        await assertNothingLeft(parley());
        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === c.callId)), 10_000);
        const legs = meta.legs as Array<{ id: string; stems: Array<{ file: string }> }>;
        assert.deepEqual(legs.map((l) => l.id).sort(), ['callee', 'callee-2', 'caller'], 'the caller, the transferor and the menu, each with its stem');
        const menuStem = readWavFile(join(parley().recordingDir, legs.find((l) => l.id === 'callee-2')!.stems[0]!.file));
        const p = purity(menuStem.samples, menuStem.sampleRate, MENU_HZ, 0, menuStem.samples.length);
        assert.ok(p > 0.3, `the menu's stem holds its beeps (${MENU_HZ} Hz purity ${p.toFixed(2)})`);
      });
    } finally {
      agent.kill();
      await agent.rtp.close();
    }
  }
});
