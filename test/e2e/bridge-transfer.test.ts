// A bridged callee's blind transfer (REFER, RFC 3515 / RFC 5589 §6), as an agent behind a
// record-notice gateway transfers a customer: Parley answers 202, NOTIFYs 100 Trying,
// dials the Refer-To (with the caller's identity and the REFER's Referred-By), connects
// the caller to it when it answers (NOTIFY 200 OK; the transferor hangs up), and the call's
// one recording goes on with the new party's stem. A target that is busy: NOTIFY 486, and
// the transferor is heard again. Real SIP over UDP (SIPp callees, a raw caller), audio
// checked as audio on both sides and in the recording.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { channel, purity, readWavFile } from '../helpers/audio-analysis.ts';
import { answerWithBaresip } from '../helpers/baresip.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, received, sippOk, sippTraced, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, flowYaml, okTo, rawCall, rawParleyPerSuite, RECORDED_BRIDGE_YAML, replyTo, responseTo, statusOf } from './raw-dialog.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';

const CALLER_HZ = 1000;
const AGENT_HZ = 600;
const TARGET_HZ = 1400;

describe("a bridged callee's blind transfer (REFER)", () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('the target is dialled and connected to the caller; the transferor is told (NOTIFY 200) and leaves; one recording with every party', async () => {
    const target = await startCallee('callee.xml', TARGET_HZ);
    const agent = await startCallee('callee-refer.xml', AGENT_HZ, ['-key', 'refer_to', `sip:carol@127.0.0.1:${target.port}`]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        const before = await comesToHear(phone, AGENT_HZ, 0);
        assert.ok(before.ok, `the caller hears the agent before the transfer: ${before.detail}`);

        // The agent REFERs (1.5 s in), takes both NOTIFYs and hangs up: its SIPp ends well.
        sippOk(await agent.done, 'the transferor (202, NOTIFY 100 Trying, NOTIFY 200 OK, then its BYE)');
        await waitFor('the target answered', () => target.rtp.received.length > 0 || undefined, 15_000);
        const after = await comesToHear(phone, TARGET_HZ, phone.received.length);
        assert.ok(after.ok, `the caller hears the transfer's target: ${after.detail}`);
        const heard = await comesToHear(target.rtp, CALLER_HZ, 0);
        assert.ok(heard.ok, `the target hears the caller: ${heard.detail}`);
        assert.equal(parley().app.calls!.active.size, 1, 'the caller\'s call goes on');

        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        const run = await target.done;
        sippOk(run, 'the target (gets the BYE when the caller hangs up)');
        // The target's INVITE: the caller's identity, and the transferor's Referred-By (RFC 3892).
        const inv = received(run).find((m) => /^INVITE sip:carol@/m.test(m));
        assert.ok(inv, 'the target got an INVITE');
        assert.match(inv, /^Referred-By: <sip:bob@127\.0\.0\.1:\d+>/m, 'with the REFER\'s Referred-By');
        assert.match(inv, /^From: <sip:adv@127\.0\.0\.1>;tag=/m, 'from the caller');
        const { active } = await ended;
        await assertNothingLeft(parley());

        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 10_000);
        const ids = (meta.legs as Array<{ id: string }>).map((l) => l.id).sort();
        assert.deepEqual(ids, ['callee', 'callee-2', 'caller'], 'the caller, the transferor and the target, each with its stem');
        const transfers = meta.transfers as Array<{ event: string; leg: string; target: string; newLeg?: string; fileMs: number; at: string }>;
        assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.target.replace(/:\d+$/, ''), t.newLeg ?? null]), [
          ['asked', 'callee', 'sip:carol@127.0.0.1', null],
          ['connected', 'callee', 'sip:carol@127.0.0.1', 'callee-2'],
        ], `the sidecar lists the transfer: ${JSON.stringify(transfers)}`);
        const targetJoin = (meta.legs as Array<{ id: string; joins: Array<{ fileMs: number }> }>).find((l) => l.id === 'callee-2')!.joins[0]!.fileMs;
        assert.ok(transfers[0]!.fileMs > 1000 && transfers[0]!.fileMs <= transfers[1]!.fileMs && Math.abs(transfers[1]!.fileMs - targetJoin) <= 100, `timed like the joins: ${transfers.map((t) => t.fileMs)}, the target joined at ${targetJoin}`);
        const stemOf = (id: string): string => (meta.legs as Array<{ id: string; stems: Array<{ file: string }> }>).find((l) => l.id === id)!.stems[0]!.file;
        const agentStem = readWavFile(join(parley().recordingDir, stemOf('callee')));
        const targetStem = readWavFile(join(parley().recordingDir, stemOf('callee-2')));
        const whole = (w: { samples: Int16Array; sampleRate: number }, hz: number): number => purity(w.samples, w.sampleRate, hz, 0, w.samples.length);
        assert.ok(whole(agentStem, AGENT_HZ) > 0.3, `the transferor's stem holds its voice (${AGENT_HZ} Hz purity ${whole(agentStem, AGENT_HZ).toFixed(2)})`);
        assert.ok(whole(targetStem, TARGET_HZ) > 0.3, `the target's stem holds its voice (${TARGET_HZ} Hz purity ${whole(targetStem, TARGET_HZ).toFixed(2)})`);
        const mix = readWavFile(join(parley().recordingDir, meta.mix.file));
        const w = mix.sampleRate / 2;
        const end = mix.samples.length - 2 * w;
        assert.ok(purity(mix.samples, mix.sampleRate, TARGET_HZ, end, w) > 0.1, 'the mix holds the target at the end');
        assert.ok(purity(mix.samples, mix.sampleRate, AGENT_HZ, mix.sampleRate / 2, w) > 0.1, 'and the agent at the start');
      });
    } finally {
      agent.kill();
      target.kill();
      await agent.rtp.close();
      await target.rtp.close();
    }
  });

  it('baresip (a real softphone) as the callee: its /transfer is carried out, it hangs up on the NOTIFY 200, the caller hears the target', async () => {
    const target = await startCallee('callee.xml', TARGET_HZ);
    const agent = await answerWithBaresip({ toneHz: AGENT_HZ, quitAfterS: 40 });
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-baresip', user: 'bob', to: agent.uri, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        const before = await comesToHear(phone, AGENT_HZ, 0);
        assert.ok(before.ok, `the caller hears baresip before the transfer: ${before.detail}`);
        agent.command(`/transfer sip:carol@127.0.0.1:${target.port}`);
        await waitFor('baresip hung up after its transfer', () => /Call with sip:adv@127\.0\.0\.1 terminated/.test(agent.output()) || undefined, 15_000);
        const out = agent.output();
        assert.match(out, /SIP\/2\.0 202 Accepted/, 'its REFER got 202');
        assert.match(out, /Subscription-State: terminated;reason=noresource[\s\S]*?SIP\/2\.0 200 OK/, 'the last NOTIFY (200 OK) ended the subscription');
        assert.doesNotMatch(out, /transfer failed/i);
        const after = await comesToHear(phone, TARGET_HZ, phone.received.length);
        assert.ok(after.ok, `the caller hears the target: ${after.detail}`);
        assert.equal(parley().app.calls!.active.size, 1, 'the caller\'s call goes on');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        sippOk(await target.done, 'the target (gets the BYE when the caller hangs up)');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      await agent.stop();
      target.kill();
      await target.rtp.close();
    }
  });

  it('an attended transfer: the Refer-To\'s Replaces goes into the target\'s INVITE (the target takes it in place of its consultation call)', async () => {
    const target = await startCallee('callee.xml', TARGET_HZ);
    const replaces = 'consult-7@10.0.0.9;to-tag=t-carol;from-tag=f-agent';
    const referTo = `sip:carol@127.0.0.1:${target.port}?Replaces=${encodeURIComponent(replaces)}`;
    const agent = await startCallee('callee-refer.xml', AGENT_HZ, ['-key', 'refer_to', referTo]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-attended', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        sippOk(await agent.done, 'the transferor (202, NOTIFY 100, NOTIFY 200, its BYE)');
        const after = await comesToHear(phone, TARGET_HZ, phone.received.length);
        assert.ok(after.ok, `the caller hears the target: ${after.detail}`);
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        const run = await target.done;
        sippOk(run, 'the target');
        const inv = received(run).find((m) => /^INVITE sip:carol@/m.test(m));
        assert.ok(inv, 'the target got an INVITE');
        assert.match(inv, /^Replaces: consult-7@10\.0\.0\.9;to-tag=t-carol;from-tag=f-agent\r?$/m, 'carrying the Replaces, unescaped');
        assert.doesNotMatch(inv, /^INVITE [^\r\n]*Replaces/m, 'and not in the Request-URI');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      agent.kill();
      target.kill();
      await agent.rtp.close();
      await target.rtp.close();
    }
  });

  it('an attended transfer whose Replaces names the transfer\'s own call: 403 with a Warning, the call goes on', async () => {
    // The Replaces names the caller's own dialog (a RawDialog's Call-ID is known before it calls). Two
    // different calls of this Parley are joined: attended-transfer-parley.test.ts.
    const callId = `raw-dialog-xfer-own-${process.pid}@127.0.0.1`;
    const referTo = `sip:carol@127.0.0.1:9?Replaces=${encodeURIComponent(`${callId};to-tag=a;from-tag=b`)}`;
    const agent = await startCallee('callee-refer-refused.xml', AGENT_HZ, ['-key', 'refer_to', referTo]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-own', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        assert.equal(c.callId, callId);
        await c.inviteSendingTone(phone, CALLER_HZ);
        // The REFER goes 1.5 s in: once it is refused (the agent got the 403) the caller still hears the agent.
        await sippTraced(agent, 'received', /^SIP\/2\.0 403 /m);
        const still = await comesToHear(phone, AGENT_HZ, phone.received.length);
        assert.ok(still.ok, `the caller still hears the agent: ${still.detail}`);
        assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        sippOk(await agent.done, 'the agent (its REFER got 403 with the Warning, then the BYE)');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      agent.kill();
      await agent.rtp.close();
    }
  });

  it('the caller\'s REFER is refused by default (403 with a Warning: a caller could make Parley dial any URI); the call goes on', async () => {
    const callee = await startCallee('callee.xml', AGENT_HZ);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-caller-refused', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        await comesToHear(phone, AGENT_HZ, 0);
        c.cseq++;
        ua.send(parley().sipPort, c.req('REFER').replace('\r\nContent-Length:', '\r\nRefer-To: <sip:premium@198.51.100.7>\r\nContent-Length:'));
        const res = await c.finalTo(`${c.cseq} REFER`);
        assert.equal(statusOf(res), 403, res);
        assert.match(res, /^Warning: 399 parley "[^"]*REFER[^"]*"/m);
        const still = await comesToHear(phone, AGENT_HZ, phone.received.length);
        assert.ok(still.ok, `the call goes on: ${still.detail}`);
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        sippOk(await callee.done, 'the callee');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });

  it('a target that forwards (302): its Contact is dialled in its place and connected to the caller; the transferor is told 200', async () => {
    const target = await startCallee('callee.xml', TARGET_HZ);
    const fwdUa = await RawSipClient.open();
    const agent = await startCallee('callee-refer.xml', AGENT_HZ, ['-key', 'refer_to', `sip:fwd@127.0.0.1:${fwdUa.port}`]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-fwd', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        const invite = await fwdUa.nextMatching(/^INVITE /, 15_000);
        replyTo(fwdUa, invite, responseTo(invite, '302 Moved Temporarily', 'fwd1').replace('Content-Length: 0', `Contact: <sip:carol@127.0.0.1:${target.port}>\r\nContent-Length: 0`));
        sippOk(await agent.done, 'the transferor (202, NOTIFY 100 Trying, NOTIFY 200 OK, then its BYE)');
        const after = await comesToHear(phone, TARGET_HZ, phone.received.length);
        assert.ok(after.ok, `the caller hears the forwarded target: ${after.detail}`);
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        const run = await target.done;
        sippOk(run, 'the forwarded target (gets the BYE when the caller hangs up)');
        assert.ok(received(run).some((m) => /^INVITE sip:carol@/m.test(m)), 'the Contact of the 302 was dialled');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      fwdUa.close();
      agent.kill();
      target.kill();
      await agent.rtp.close();
      await target.rtp.close();
    }
  });

  it('a busy target: NOTIFY 486, the transferor is heard again and the call goes on until the caller hangs up', async () => {
    const target = await startCallee('callee-busy.xml', null);
    const agent = await startCallee('callee-refer-fails.xml', AGENT_HZ, ['-key', 'refer_to', `sip:carol@127.0.0.1:${target.port}`]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-busy', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        sippOk(await target.done, 'the busy target (486)');
        // After the failed transfer the caller hears the agent again (comesToHear judges each second from now until one holds the tone).
        const back = await comesToHear(phone, AGENT_HZ, phone.received.length);
        assert.ok(back.ok, `the caller hears the transferor again: ${back.detail}`);
        assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        sippOk(await agent.done, 'the transferor (NOTIFY 486, then the BYE)');
        const { active } = await ended;
        await assertNothingLeft(parley());
        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 10_000);
        const transfers = meta.transfers as Array<{ event: string; leg: string; status?: number }>;
        assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.status ?? null]), [['asked', 'callee', null], ['failed', 'callee', 486]], 'the sidecar lists the failed transfer');
      });
    } finally {
      agent.kill();
      target.kill();
      await agent.rtp.close();
      await target.rtp.close();
    }
  });

  it('the caller hangs up while the target rings: the target is cancelled, the transferor gets NOTIFY 487 (subscription terminated) before its BYE', async () => {
    const target = await startCallee('callee-no-answer.xml', null);
    const agent = await startCallee('callee-refer-abandoned.xml', AGENT_HZ, ['-key', 'refer_to', `sip:carol@127.0.0.1:${target.port}`]);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-abandoned', user: 'bob', to: `sip:bob@127.0.0.1:${agent.port}`, phone }, async (c) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        // The REFER comes 1.5 s after the answer; the caller hangs up once the target rings (it sent its 180).
        await sippTraced(target, 'sent', /^SIP\/2\.0 180 /m);
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.final()), 200);
        sippOk(await agent.done, 'the transferor (NOTIFY 487 terminated, then the BYE)');
        sippOk(await target.done, 'the target (cancelled)');
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      agent.kill();
      target.kill();
      await agent.rtp.close();
      await target.rtp.close();
      await phone.close();
    }
  });
});

describe("a bridged caller's transfer (transfers: both)", () => {
  const parley = rawParleyPerSuite(flowYaml('xfer2', '    - answer\n    - record: { action: start }\n    - bridge: { ringTimeout: 10, transfers: both }\n'));

  it('the caller transfers (an agent that dialled out through Parley): the callee is connected to the target, the caller leaves, the call and its recording go on', async () => {
    const callee = await startCallee('callee.xml', AGENT_HZ);
    const target = await startCallee('callee.xml', TARGET_HZ);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'xfer-caller', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        await c.inviteSendingTone(phone, CALLER_HZ);
        const before = await comesToHear(phone, AGENT_HZ, 0);
        assert.ok(before.ok, `the caller hears the callee before the transfer: ${before.detail}`);
        await new Promise((r) => setTimeout(r, 300)); // past any whisper: connected

        c.cseq++;
        ua.send(parley().sipPort, c.req('REFER').replace('\r\nContent-Length:', `\r\nRefer-To: <sip:carol@127.0.0.1:${target.port}>\r\nReferred-By: <sip:adv@127.0.0.1>\r\nContent-Length:`));
        const accepted = await c.finalTo(`${c.cseq} REFER`);
        assert.equal(statusOf(accepted), 202, accepted);
        const notifies: string[] = [];
        for (;;) {
          const n = await ua.nextMatching(/^NOTIFY /, 15_000, c.callId);
          ua.send(parley().sipPort, okTo(n));
          notifies.push(n);
          if (/^Subscription-State:\s*terminated/im.test(n)) break;
        }
        assert.match(notifies[0]!, /\r\n\r\nSIP\/2\.0 100 Trying/, 'NOTIFY 100 Trying first');
        assert.match(notifies.at(-1)!, /\r\n\r\nSIP\/2\.0 200 OK/, 'the last NOTIFY says 200 OK');
        // The transferor hangs up (RFC 5589 §6): the call goes on without it.
        phone.stopSending();
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(parley().app.calls!.active.size, 1, 'the call goes on after its caller left');
        // The guard for calls no dialog keeps alive leaves it be: the callee's and the target's do.
        parley().app.calls!.guard();
        assert.equal(parley().app.calls!.active.size, 1, 'the guard does not end it');
        const calleeHears = await comesToHear(callee.rtp, TARGET_HZ, callee.rtp.received.length);
        assert.ok(calleeHears.ok, `the callee hears the target: ${calleeHears.detail}`);
        const targetHears = await comesToHear(target.rtp, AGENT_HZ, 0);
        assert.ok(targetHears.ok, `the target hears the callee: ${targetHears.detail}`);

        // The target hangs up: the callee gets a BYE, the call ends.
        const active = [...parley().app.calls!.active.values()][0]!;
        active.call.hangup();
        sippOk(await callee.done, 'the callee (BYE at the end)');
        const run = await target.done;
        sippOk(run, 'the target (BYE at the end)');
        const inv = received(run).find((m) => /^INVITE sip:carol@/m.test(m));
        assert.ok(inv, 'the target got an INVITE');
        assert.match(inv, new RegExp(`^From: <sip:bob@127\\.0\\.0\\.1:${callee.port}>;tag=`, 'm'), 'from the callee (who is being transferred)');
        await ended;
        await assertNothingLeft(parley());
        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === c.callId)), 10_000);
        const legs = meta.legs as Array<{ id: string; role: string; stems: Array<{ file: string }> }>;
        assert.deepEqual(legs.map((l) => l.id).sort(), ['callee', 'caller', 'caller-2']);
        assert.equal(legs.find((l) => l.id === 'caller-2')!.role, 'caller', 'the target stands in for the caller');
        const stem = readWavFile(join(parley().recordingDir, legs.find((l) => l.id === 'caller-2')!.stems[0]!.file));
        assert.ok(purity(stem.samples, stem.sampleRate, TARGET_HZ, 0, stem.samples.length) > 0.3, 'the stand-in\'s stem holds the target');
        // Stereo: the stand-in on the left, where the caller was; the callee on the right.
        const stereo = readWavFile(join(parley().recordingDir, meta.stereo.file));
        const [left, right] = [channel(stereo.samples, 2, 0), channel(stereo.samples, 2, 1)];
        const lastSecond = (x: Int16Array, hz: number): number => purity(x, stereo.sampleRate, hz, x.length - stereo.sampleRate, stereo.sampleRate / 2);
        assert.ok(lastSecond(left, TARGET_HZ) > 0.3, `left: the stand-in at the end (${lastSecond(left, TARGET_HZ).toFixed(2)})`);
        assert.ok(lastSecond(right, AGENT_HZ) > 0.3, `right: the callee at the end (${lastSecond(right, AGENT_HZ).toFixed(2)})`);
        assert.ok(lastSecond(right, TARGET_HZ) < 0.1, 'and not the stand-in');
      });
    } finally {
      callee.kill();
      target.kill();
      await callee.rtp.close();
      await target.rtp.close();
    }
  });
});
