// RFC 4733 digits through a bridge: a caller behind Parley's record-notice gateway keys its way
// through the callee's IVR, and the callee's digits reach the caller. Each party's
// telephone-event packets go on to the other as they come (the bridge step's `dtmf: relay`, the
// default), on the other party's own stream and telephone-event payload type, the payload
// (digit, end bit, duration) as sent; Parley still takes the digits (its `dtmf` events).
// `dtmf: take` keeps them from the other party. A digit sent as SIP INFO reaches the other party
// as RFC 4733 events, and POST /calls/:id/dtmf sends digits to one leg. Raw SIP over UDP, real RTP peers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call as api } from '../helpers/api-client.ts';
import { dtmfDigitsIn, toneAmplitude } from '../helpers/audio-analysis.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import type { RtpPacket } from '../helpers/rtp.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { flowYaml, rawBridgedCall, rawParleyPerSuite, statusOf, type RawDialog } from './raw-dialog.ts';

const CALLER_HZ = 1000;
const CALLEE_HZ = 600;

/** The digits in a peer's telephone-event packets (payload type `pt`), one per event (its timestamp), with each event's packets. */
function digitsIn(received: RtpPacket[], pt: number): { digit: number; packets: RtpPacket[] }[] {
  const byTs = new Map<number, RtpPacket[]>();
  for (const p of received) if (p.payloadType === pt) byTs.set(p.timestamp, [...(byTs.get(p.timestamp) ?? []), p]);
  return [...byTs.values()].map((packets) => ({ digit: packets[0]!.payload[0]!, packets }));
}

/** The digits a real in-band detector (Parley's Goertzel one) finds in what a G.711 peer heard. */
const tonesIn = (samples: Int16Array): string[] => dtmfDigitsIn(samples, 8000);

type Parley = Parameters<typeof callEnd>[0];
interface Bridged {
  c: RawDialog;
  invite: string;
  callerUa: RawSipClient;
  calleeUa: RawSipClient;
  caller: RtpPeer;
  callee: RtpPeer;
}

/**
 * A bridged call through `p` between a PCMU caller and callee with telephone-event at these
 * payload types (null: none offered or answered): `fn` runs it, then the caller's BYE ends it.
 */
async function bridged<T>(p: Parley, name: string, dtmf: { caller: number | null; callee: number | null }, fn: (b: Bridged) => Promise<T>): Promise<T> {
  const callerUa = await RawSipClient.open();
  const calleeUa = await RawSipClient.open();
  const caller = await new RtpPeer({ codec: 'PCMU', dtmfPt: dtmf.caller }).bind();
  const callee = await new RtpPeer({ codec: 'PCMU', dtmfPt: dtmf.callee, latch: true }).bind();
  try {
    const { c, invite } = await rawBridgedCall({ sipPort: p.sipPort, name, user: 'agent', callerUa, calleeUa, caller, callee, callerHz: CALLER_HZ, calleeHz: CALLEE_HZ, calleeTag: `${name}-callee` });
    const ended = callEnd(p, c.callId);
    const out = await fn({ c, invite, callerUa, calleeUa, caller, callee });
    c.cseq++;
    c.send('BYE');
    assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
    await ended;
    return out;
  } finally {
    callerUa.close();
    calleeUa.close();
    await caller.close();
    await callee.close();
  }
}

/** A bridged call whose caller offers telephone-event at 100 and whose callee answers it at 101: what each got of the other's digits. */
function bridgedDigits(parleyApp: Parley, name: string, how: 'rtp' | 'info' = 'rtp'): Promise<{ toCallee: ReturnType<typeof digitsIn>; toCaller: ReturnType<typeof digitsIn>; taken: string[] }> {
  const sipPort = parleyApp.sipPort;
  return bridged(parleyApp, name, { caller: 100, callee: 101 }, async ({ c, invite, calleeUa, caller, callee }) => {
    const taken: string[] = [];
    const active = parleyApp.app.calls!.active.get(c.callId)!;
    // Parley's own `dtmf` events of both legs (the API's).
    for (const id of ['caller', 'callee']) active.call.room.leg(id)!.on('dtmf', (e) => taken.push(e.digit));
    assert.ok((await comesToHear(caller, CALLEE_HZ, 0)).ok, 'the caller hears the callee');
    assert.ok((await comesToHear(callee, CALLER_HZ, 0)).ok, 'the callee hears the caller');
    // The caller keys 4 then 2 (an account number into the callee's IVR); the callee keys 9.
    if (how === 'rtp') {
      caller.queueDtmf('4', 120);
      caller.queueDtmf('2', 120, null, 100);
      callee.queueDtmf('9', 120);
    } else {
      // As SIP INFO (application/dtmf-relay with a duration; the callee's application/dtmf without one), each answered 200.
      for (const digit of ['4', '2']) {
        c.cseq++;
        c.sendText(c.req('INFO', `Signal=${digit}\r\nDuration=160\r\n`).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
        assert.equal(statusOf(await c.finalTo(`${c.cseq} INFO`)), 200);
      }
      calleeUa.send(sipPort, inDialogFrom(invite, `${name}-callee`, 'INFO', 1, calleeUa.port, contactUri(invite), 'application/dtmf', '9'));
      assert.equal(statusOf(await calleeUa.nextMatching(/^SIP\/2\.0 \d+ /, 10_000)), 200);
    }
    await waitFor('the digits taken by Parley', () => taken.length >= 3, 10_000);
    if (how === 'info') {
      // INFO digits are taken at once; their events come once each INFO from a party with
      // telephone-event has waited for its key's own RFC 4733 events (none here), one behind the other.
      const ended = (got: ReturnType<typeof digitsIn>, n: number): boolean => got.length >= n && got.every((d) => d.packets.filter((x) => (x.payload[1]! & 0x80) !== 0).length >= 3);
      await waitFor('the INFO digits played to both parties, each with its three ends', () => (ended(digitsIn(callee.received, 101), 2) && ended(digitsIn(caller.received, 100), 1)) || undefined, 10_000);
    } else await new Promise((r) => setTimeout(r, 300));
    return { toCallee: digitsIn(callee.received, 101), toCaller: digitsIn(caller.received, 100), taken };
  });
}

// One Parley per flow for the whole file (each test makes its own calls and checks that
// nothing of them is left): recorded bridges, plain bridges. A Parley's start and stop cost
// more than most of these tests.
const recordedBridge = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - record: { action: start }\n    - bridge: { ringTimeout: 10 }\n'));
const plainBridge = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10 }\n'));

describe('RFC 4733 digits through a bridge (dtmf: relay, the default)', () => {
  const parley = recordedBridge;

  it("each party's digits reach the other, on its own telephone-event payload type, as sent (one timestamp per digit, the first packet marked, the end bit); Parley still takes them", async () => {
    const p = parley();
    const { toCallee, toCaller, taken } = await bridgedDigits(p, 'relay');
    assert.deepEqual(toCallee.map((d) => d.digit), [4, 2], 'the callee gets 4 and 2 at its payload type 101');
    assert.deepEqual(toCaller.map((d) => d.digit), [9], 'the caller gets 9 at its payload type 100');
    for (const d of [...toCallee, ...toCaller]) {
      assert.equal(d.packets[0]!.marker, true, `digit ${d.digit}: its first packet marked`);
      assert.ok(d.packets.some((x) => (x.payload[1]! & 0x80) !== 0), `digit ${d.digit}: its end packet came`);
      const durations = d.packets.map((x) => x.payload.readUInt16BE(2));
      assert.ok(Math.max(...durations) >= 800, `digit ${d.digit}: it lasts what was sent (120 ms at 8 kHz: ${Math.max(...durations)})`);
    }
    assert.deepEqual([...taken].sort(), ['2', '4', '9'], 'Parley took the digits too');
    await assertNothingLeft(p);
  });

  it('a digit sent as SIP INFO reaches the other party as RFC 4733 events (its duration, or 100 ms when the INFO gives none), the end three times', async () => {
    const p = parley();
    const { toCallee, toCaller, taken } = await bridgedDigits(p, 'info', 'info');
    assert.deepEqual(toCallee.map((d) => d.digit), [4, 2], 'the callee gets 4 and 2 as events at its payload type 101');
    assert.deepEqual(toCaller.map((d) => d.digit), [9], 'the caller gets 9 at its payload type 100');
    for (const [d, ms] of [[toCallee[0]!, 160], [toCallee[1]!, 160], [toCaller[0]!, 100]] as const) {
      assert.equal(d.packets[0]!.marker, true, `digit ${d.digit}: its first packet marked`);
      const ends = d.packets.filter((x) => (x.payload[1]! & 0x80) !== 0);
      assert.equal(ends.length, 3, `digit ${d.digit}: the end three times`);
      assert.equal(ends[0]!.payload.readUInt16BE(2), ms * 8, `digit ${d.digit}: ${ms} ms at 8 kHz`);
    }
    assert.deepEqual([...taken].sort(), ['2', '4', '9']);
    await assertNothingLeft(p);
  });
});

describe('POST /calls/:id/dtmf: digits to one leg as RFC 4733 events', () => {
  const parley = plainBridge;

  it('the callee gets the digits in order, each as long as asked, the end three times; an unknown leg 404, a bad digit 400; a leg without telephone-event hears them as tones, as does one with it under inband: true', async () => {
    const p = parley();
    await bridged(p, 'api-dtmf', { caller: null, callee: 101 }, async ({ c, caller, callee }) => {
      assert.ok((await comesToHear(callee, CALLER_HZ, 0)).ok, 'the callee hears the caller');
      const base = apiBase(p);
      const path = `/calls/${encodeURIComponent(c.callId)}/dtmf`;
      const sent = await api(base, 'POST', path, { digits: '12#', leg: 'callee', durationMs: 80 });
      assert.equal(sent.status, 202, sent.text);
      assert.equal((await api(base, 'POST', path, { digits: '1', leg: 'nope' })).status, 404);
      assert.equal((await api(base, 'POST', path, { digits: '1x', leg: 'callee' })).status, 400);
      // The caller offered no telephone-event: its digits are tones in what it hears (the callee quiet meanwhile).
      callee.setSilence();
      await new Promise((r) => setTimeout(r, 200));
      const from = caller.received.length;
      const inband = await api(base, 'POST', path, { digits: '*5', durationMs: 120 });
      assert.equal(inband.status, 202, inband.text);
      await waitFor('two tones at the caller', () => (tonesIn(caller.decoded(from)).length >= 2 ? true : undefined), 10_000);
      assert.deepEqual(tonesIn(caller.decoded(from)), ['*', '5'], 'the caller hears * then 5 (a real detector)');
      await waitFor('three digits at the callee', () => digitsIn(callee.received, 101).length >= 3 && digitsIn(callee.received, 101)[2]!.packets.filter((x) => (x.payload[1]! & 0x80) !== 0).length === 3, 10_000);
      const got = digitsIn(callee.received, 101);
      assert.deepEqual(got.map((d) => d.digit), [1, 2, 11], '1, 2 and # (event 11), in order');
      for (const d of got) {
        const ends = d.packets.filter((x) => (x.payload[1]! & 0x80) !== 0);
        assert.deepEqual(ends.map((x) => x.payload.readUInt16BE(2)), [640, 640, 640], `digit ${d.digit}: 80 ms, the end three times`);
        assert.equal(d.packets[0]!.marker, true);
      }
      // inband: true: tones in the callee's audio although it has telephone-event (a far end that listens for tones only).
      caller.setSilence();
      await new Promise((r) => setTimeout(r, 200));
      const at = callee.received.length;
      const tones = await api(base, 'POST', path, { digits: '9', leg: 'callee', durationMs: 120, inband: true });
      assert.equal(tones.status, 202, tones.text);
      await waitFor('a tone at the callee', () => (tonesIn(callee.decoded(at)).length >= 1 ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(tonesIn(callee.decoded(at)), ['9'], 'the callee hears 9 (a real detector)');
      assert.equal(digitsIn(callee.received.slice(at), 101).length, 0, 'and gets no event for it');
    });
    await assertNothingLeft(p);
  });
});

// A callee that took G.711 alone (an old gateway, a PBX that answers without telephone-event)
// gets the caller's digits as DTMF tones in its audio, whether the caller sent them as RFC 4733
// or as SIP INFO: a real in-band detector finds them in what it heard, in order. The two-party
// room mixes while they play and forwards again after.
describe('digits to a party without telephone-event are played to it in-band', () => {
  const parley = recordedBridge;

  it('RFC 4733 digits (4, 2) and an INFO digit (7) from the caller are tones at the callee; the call forwards again after', async () => {
    const p = parley();
    await bridged(p, 'inband', { caller: 100, callee: null }, async ({ c, caller, callee }) => {
      assert.ok((await comesToHear(callee, CALLER_HZ, 0)).ok, 'the callee hears the caller');
      const forwarding = async (): Promise<string | undefined> => (await api(apiBase(p), 'GET', '/metrics')).text.split('\n').find((l) => l.startsWith('parley_rooms_forwarding '));
      assert.equal(await waitFor('the two-party call forwarding', async () => ((await forwarding()) === 'parley_rooms_forwarding 1' ? true : undefined), 10_000), true);
      // The caller keys quietly (as phones do while they send RFC 4733): 4 and 2, then 7 by INFO.
      caller.setSilence();
      await new Promise((r) => setTimeout(r, 200));
      const from = callee.received.length;
      caller.queueDtmf('4', 120);
      caller.queueDtmf('2', 120, null, 100);
      await waitFor('the events sent', () => (caller.pendingDigits === 0 ? true : undefined), 10_000);
      c.cseq++;
      c.sendText(c.req('INFO', 'Signal=7\r\nDuration=160\r\n').replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
      assert.equal(statusOf(await c.finalTo(`${c.cseq} INFO`)), 200);
      await waitFor('three tones at the callee', () => (tonesIn(callee.decoded(from)).length >= 3 ? true : undefined), 10_000);
      assert.deepEqual(tonesIn(callee.decoded(from)), ['4', '2', '7'], 'the callee hears 4, 2 and 7 (a real detector)');
      assert.equal(callee.received.filter((x) => x.payloadType !== 0).length, 0, 'no telephone-event packets (none negotiated)');
      // Then the room hands back to forwarding, and the callee hears the caller again.
      caller.setTone(CALLER_HZ);
      // (The metrics are the media thread's snapshot, about once a second: the switch shows within a few.)
      const mixedOnce = async (): Promise<true | undefined> =>
        (await api(apiBase(p), 'GET', '/metrics')).text.split('\n').some((l) => l.startsWith('parley_room_mode_switches{') && l.includes('to="mixed"') && Number(l.split(' ').pop()) >= 1) || undefined;
      assert.equal(await waitFor('the room mixed while the tones played', mixedOnce, 10_000), true);
      assert.equal(await waitFor('forwarding again', async () => ((await forwarding()) === 'parley_rooms_forwarding 1' ? true : undefined), 10_000), true);
      assert.ok((await comesToHear(callee, CALLER_HZ, callee.received.length)).ok, "the callee hears the caller after the digits");
    });
    await assertNothingLeft(p);
  });
});

// The other way: a caller without telephone-event (an analog gateway) keys DTMF tones, and a
// callee with it (an IVR that takes RFC 4733 only) gets each digit as events once its tone ended;
// the tones stay in its audio too.
describe('DTMF tones from a party without telephone-event reach one with it as RFC 4733', () => {
  const parley = recordedBridge;

  it('the caller keys 3 and 8 as tones; the callee gets events 3 then 8, each as long as its tone, the end three times; Parley takes them', async () => {
    const p = parley();
    await bridged(p, 'tones-to-events', { caller: null, callee: 101 }, async ({ c, caller, callee }) => {
      const taken: string[] = [];
      p.app.calls!.active.get(c.callId)!.call.room.leg('caller')!.on('dtmf', (e) => taken.push(`${e.digit}:${e.source}`));
      assert.ok((await comesToHear(callee, CALLER_HZ, 0)).ok, 'the callee hears the caller');
      caller.setSilence();
      await new Promise((r) => setTimeout(r, 200));
      const from = callee.received.length;
      caller.queueInband('3', 140, 100);
      caller.queueInband('8', 160, 100);
      await waitFor('two digits at the callee, ended', () => {
        const got = digitsIn(callee.received.slice(from), 101);
        return got.length >= 2 && got[1]!.packets.filter((x) => (x.payload[1]! & 0x80) !== 0).length === 3 ? true : undefined;
      }, 10_000);
      const got = digitsIn(callee.received.slice(from), 101);
      assert.deepEqual(got.map((d) => d.digit), [3, 8]);
      for (const [i, d] of got.entries()) {
        const ends = d.packets.filter((x) => (x.payload[1]! & 0x80) !== 0);
        assert.equal(ends.length, 3, `digit ${d.digit}: the end three times`);
        // The detector's length of the tone, in 20 ms frames (140 and 160 ms sent): 8 kHz timestamp units.
        const ms = ends[0]!.payload.readUInt16BE(2) / 8;
        assert.ok(Math.abs(ms - [140, 160][i]!) <= 40, `digit ${d.digit}: ${ms} ms`);
        assert.equal(d.packets[0]!.marker, true);
      }
      assert.deepEqual(tonesIn(callee.decoded(from)), ['3', '8'], 'the tones are in its audio as well');
      assert.deepEqual(taken, ['3:inband', '8:inband']);
      assert.equal(digitsIn(caller.received, 100).length + caller.received.filter((x) => x.payloadType !== 0).length, 0, 'nothing but audio to the caller');
    });
    await assertNothingLeft(p);
  });
});

describe('a held key reaches a party without telephone-event as it is pressed', () => {
  const parley = plainBridge;

  it('the callee hears the tone of a 700 ms RFC 4733 digit start with its first events, not after its end, and about as long', async () => {
    const p = parley();
    await bridged(p, 'held-key', { caller: 100, callee: null }, async ({ caller, callee }) => {
      assert.ok((await comesToHear(callee, CALLER_HZ, 0)).ok, 'the callee hears the caller');
      caller.setSilence();
      await new Promise((r) => setTimeout(r, 300));
      const from = callee.received.length;
      const pressed = performance.now();
      caller.queueDtmf('4', 700);
      await waitFor('the end sent', () => (caller.pendingDigits === 0 ? true : undefined), 10_000);
      const released = performance.now();
      await new Promise((r) => setTimeout(r, 400));
      // Each packet the callee got since, as 20 ms of audio: which carry digit 4 (770 + 1209 Hz).
      const got = callee.received.slice(from);
      const pcm = callee.decoded(from);
      const toned = got.map((x, i) => ({ at: (x as { at?: number }).at ?? 0, on: toneAmplitude(pcm.subarray(i * 160, i * 160 + 160), 8000, 770) > 0.1 && toneAmplitude(pcm.subarray(i * 160, i * 160 + 160), 8000, 1209) > 0.1 }));
      const first = toned.find((x) => x.on);
      assert.ok(first, 'the callee heard the tone');
      assert.ok(first.at - pressed < 250, `the tone began ${Math.round(first.at - pressed)} ms after the key (released after ${Math.round(released - pressed)} ms)`);
      const ms = toned.filter((x) => x.on).length * 20;
      assert.ok(ms >= 600 && ms <= 800, `${ms} ms of tone for a 700 ms key`);
      assert.deepEqual(tonesIn(pcm), ['4']);
    });
    await assertNothingLeft(p);
  });
});

describe('RFC 4733 digits through a bridge with dtmf: take', () => {
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10, dtmf: take }\n'));

  it('Parley takes the digits; neither party gets the other\'s', async () => {
    const p = parley();
    const { toCallee, toCaller, taken } = await bridgedDigits(p, 'take');
    assert.deepEqual([toCallee.length, toCaller.length], [0, 0]);
    assert.deepEqual([...taken].sort(), ['2', '4', '9']);
    await assertNothingLeft(p);
  });
});
