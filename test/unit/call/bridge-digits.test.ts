// BridgeDigits with fake legs: which digits go to which party and how (RFC 4733 relay on the
// media thread, INFO and in-band digits as sendDigit), when the in-band detector runs, and the
// echo of tones played to a party that is not sent back.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { BridgeDigits } from '../../../src/call/bridge-digits.ts';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import type { MediaLeg } from '../../../src/media-plane/media-api.ts';

class FakeLeg extends EventEmitter {
  isClosed = false;
  relayTo: string | null = null;
  detect: boolean | 'auto' = false;
  readonly sent: { digit: string; ms: number }[] = [];
  constructor(
    readonly id: string,
    telephoneEvent: boolean,
  ) {
    super();
    this.media = { dtmf: telephoneEvent ? { sendPt: 101, recvPt: 101, clock: 8000 } : null };
  }
  media: { dtmf: { sendPt: number; recvPt: number; clock: number } | null };
  relayDtmfTo(id: string | null): void {
    this.relayTo = id;
  }
  detectInbandDtmf(on: boolean | 'auto'): void {
    this.detect = on;
  }
  sendDigit(digit: string, ms: number): void {
    this.sent.push({ digit, ms });
  }
  digit(digit: string, source: DtmfEvent['source'], durationMs = 120): void {
    this.emit('dtmf', { digit, durationMs, source });
  }
  /** The same key from another carrier, which the leg takes once (MediaLegBase.emitDigit). */
  repeat(digit: string, source: DtmfEvent['source'], durationMs = 120): void {
    this.emit('dtmfrepeat', { digit, durationMs, source });
  }
}

const leg = (l: FakeLeg): MediaLeg => l as unknown as MediaLeg;

function setup(callerTe: boolean, calleeTe: boolean): { caller: FakeLeg; callee: FakeLeg; d: BridgeDigits; wants: { on: number; off: number } } {
  const caller = new FakeLeg('caller', callerTe);
  const callee = new FakeLeg('callee', calleeTe);
  const wants = { on: 0, off: 0 };
  const d = new BridgeDigits('relay', {
    callerLeg: leg(caller),
    wantCallerDigits: () => {
      wants.on++;
      return () => wants.off++;
    },
    always: false,
  });
  d.connect(leg(caller), leg(callee));
  return { caller, callee, d, wants };
}

describe('BridgeDigits', () => {
  it('a caller without telephone-event: its detector runs, and its tones reach the callee as RFC 4733 digits', () => {
    const { caller, callee, d, wants } = setup(false, true);
    assert.deepEqual([caller.relayTo, callee.relayTo], ['callee', 'caller']);
    assert.deepEqual(wants, { on: 1, off: 0 }, "the caller's detector is wanted through its call");
    assert.equal(callee.detect, false, "the callee's is left alone (it has telephone-event)");
    caller.digit('3', 'inband', 140);
    caller.digit('8', 'inband', 60);
    assert.deepEqual(callee.sent, [{ digit: '3', ms: 140 }, { digit: '8', ms: 60 }]);
    assert.deepEqual(caller.sent, []);
    d.close();
    assert.deepEqual(wants, { on: 1, off: 1 }, 'released when the bridge ends');
    caller.digit('5', 'inband');
    assert.equal(callee.sent.length, 2, 'nothing after');
  });

  it('a re-INVITE that changes who has telephone-event pairs them again: detection follows', () => {
    const { caller, callee, d, wants } = setup(true, true);
    assert.deepEqual([wants, callee.detect], [{ on: 0, off: 0 }, false], 'both have telephone-event: no detector');
    callee.media = { dtmf: null };
    callee.emit('media', callee.media);
    assert.equal(callee.detect, 'auto', "the callee dropped telephone-event: its tones are looked for");
    callee.digit('4', 'inband', 90);
    assert.deepEqual(caller.sent, [{ digit: '4', ms: 90 }]);
    callee.media = { dtmf: { sendPt: 101, recvPt: 101, clock: 8000 } };
    caller.media = { dtmf: null };
    caller.emit('media', caller.media);
    assert.equal(callee.detect, false, 'the callee has it again: its detector is off');
    assert.deepEqual(wants, { on: 1, off: 0 }, "the caller lost it: the caller's detector is wanted");
    caller.digit('7', 'inband', 70);
    assert.deepEqual(callee.sent, [{ digit: '7', ms: 70 }]);
    assert.deepEqual([caller.relayTo, callee.relayTo], ['callee', 'caller']);
    caller.emit('media', caller.media);
    assert.deepEqual(wants, { on: 1, off: 0 }, 'a re-INVITE that changes nothing of it changes nothing');
    d.close();
    assert.deepEqual(wants, { on: 1, off: 1 });
  });

  it('a callee without telephone-event: its own detector is turned on, and off again', () => {
    const { caller, callee, d, wants } = setup(true, false);
    assert.deepEqual(wants, { on: 0, off: 0 });
    assert.equal(callee.detect, 'auto');
    callee.digit('9', 'inband', 100);
    assert.deepEqual(caller.sent, [{ digit: '9', ms: 100 }]);
    d.close();
    assert.equal(callee.detect, false);
  });

  it('neither or both with telephone-event: no detector; in-band digits are not sent (they are in the audio)', () => {
    for (const te of [false, true]) {
      const { caller, callee, wants } = setup(te, te);
      assert.deepEqual([wants.on, callee.detect], [0, false]);
      caller.digit('1', 'inband');
      callee.digit('2', 'inband');
      assert.deepEqual([caller.sent, callee.sent], [[], []]);
    }
  });

  it('INFO digits are sent on, once their key\'s RFC 4733 events had the time to come; RFC 4733 ones are left to the media thread', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { caller, callee } = setup(true, true);
    caller.digit('4', 'info', 0);
    callee.digit('7', 'info', 250);
    caller.digit('5', 'rfc4733');
    assert.deepEqual([callee.sent, caller.sent], [[], []], 'not before the wait');
    t.mock.timers.tick(499);
    assert.deepEqual([callee.sent, caller.sent], [[], []], '400 ms + 100 ms');
    t.mock.timers.tick(1);
    assert.deepEqual(callee.sent, [{ digit: '4', ms: 100 }]);
    t.mock.timers.tick(150);
    assert.deepEqual(caller.sent, [{ digit: '7', ms: 250 }]);
  });

  it('an INFO digit whose key came as RFC 4733 events too (relayed already) is not sent; another key still is', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { caller, callee } = setup(true, true);
    caller.digit('5', 'info', 120);
    caller.repeat('5', 'rfc4733', 120);
    caller.digit('6', 'info', 120);
    caller.repeat('5', 'rfc4733', 120);
    t.mock.timers.tick(1000);
    assert.deepEqual(callee.sent, [{ digit: '6', ms: 120 }]);
  });

  it('an INFO digit to a party without telephone-event is played at once (its tone; the RFC 4733 copy is taken once by the leg)', () => {
    const { caller, callee } = setup(true, false);
    caller.digit('3', 'info', 120);
    assert.deepEqual(callee.sent, [{ digit: '3', ms: 120 }]);
  });

  it('a pending INFO digit is dropped with the pairing', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { caller, callee, d } = setup(true, true);
    caller.digit('8', 'info', 120);
    d.close();
    t.mock.timers.tick(1000);
    assert.deepEqual(callee.sent, []);
  });

  it("the echo of the callee's digits played to the caller as tones is not sent back; the caller's own presses are", () => {
    const { caller, callee } = setup(false, true);
    callee.digit('6', 'rfc4733', 120);
    callee.digit('6', 'info', 120);
    // The line echoes both tones back: the detector finds 6 twice.
    caller.digit('6', 'inband', 100);
    caller.digit('6', 'inband', 100);
    assert.deepEqual(callee.sent, [], 'the echoes are not digits of the caller');
    // A third 6 and another digit are the caller's own.
    caller.digit('6', 'inband', 100);
    caller.digit('2', 'inband', 100);
    assert.deepEqual(callee.sent.slice().map((s: { digit: string }) => s.digit), ['6', '2']);
  });

  it('re-paired with a transfer target: the old pair is let go', () => {
    const { caller, callee, d, wants } = setup(false, true);
    const target = new FakeLeg('callee-2', false);
    d.connect(leg(caller), leg(target));
    assert.equal(callee.relayTo, null, 'the old callee relays nothing more');
    assert.equal(wants.off, 1, "the caller's detector is let go (the new callee has no telephone-event)");
    caller.digit('1', 'inband');
    callee.digit('2', 'inband');
    assert.deepEqual([target.sent, caller.sent, callee.sent], [[], [], []]);
  });

  it('dtmf: take relays nothing and detects nothing', () => {
    const caller = new FakeLeg('caller', false);
    const callee = new FakeLeg('callee', true);
    let wanted = 0;
    new BridgeDigits('take', { callerLeg: leg(caller), wantCallerDigits: () => (wanted++, () => undefined), always: false }).connect(leg(caller), leg(callee));
    caller.digit('1', 'inband');
    assert.deepEqual([wanted, callee.sent.length, caller.relayTo], [0, 0, null]);
  });
});
