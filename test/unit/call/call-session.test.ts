import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallSession } from '../../../src/call/call-session.ts';
import type { FlowsConfig } from '../../../src/call/flow-types.ts';
import { FakeCall } from './fake-call.ts';

const flows: FlowsConfig = {
  'record-notice': [
    { answer: { early: true } },
    { record: { action: 'start', stereo: true } },
    { play: { prompt: 'record-notice', notice: true } },
    { bridge: { whisper: { prompt: 'record-notice' }, fallback: 'callee-unavailable' } },
  ],
  'callee-unavailable': [{ play: { prompt: 'unavailable' } }, { hangup: null }],
  menu: [
    { answer: null },
    {
      menu: {
        prompt: { prompt: 'menu-main' },
        branches: { '1': 'sales', '2': 'support' },
        retries: 1,
        invalidPrompt: { prompt: 'invalid' },
        fallback: 'goodbye',
        interDigitTimeout: 0.05,
        timeout: 0.1,
      },
    },
  ],
  sales: [{ play: { prompt: 'sales' } }, { hangup: null }],
  support: [{ play: { prompt: 'support' } }, { hangup: null }],
  goodbye: [{ play: { prompt: 'goodbye' } }, { hangup: null }],
  pin: [
    { answer: null },
    { collect: { prompt: { prompt: 'enter-pin' }, into: 'pin', maxDigits: 6, terminator: '#', interDigitTimeout: 0.2, timeout: 0.5 } },
  ],
  barge: [{ answer: null }, { play: { prompt: 'long', bargeIn: true } }, { goto: 'menu' }],
  loop: [{ goto: 'loop2' }],
  loop2: [{ goto: 'loop' }],
  missing: [{ play: { prompt: 'nope' } }],
  pin4: [
    { answer: null },
    {
      collect: {
        prompt: { prompt: 'enter-pin' },
        into: 'pin',
        maxDigits: 4,
        minDigits: 4,
        terminator: '#',
        interDigitTimeout: 0.05,
        timeout: 0.1,
        retries: 1,
        invalidPrompt: { prompt: 'invalid' },
        fallback: 'goodbye',
      },
    },
    { play: { prompt: 'ok' } },
  ],
  'pin-no-fallback': [
    { answer: null },
    { collect: { prompt: { prompt: 'enter-pin' }, into: 'pin', minDigits: 1, interDigitTimeout: 0.05, timeout: 0.05 } },
    { play: { prompt: 'ok' } },
  ],
};

async function run(call: FakeCall, flow: string) {
  const session = new CallSession(call, flows);
  const done = session.waitFor('done', 5000);
  await session.run(flow);
  const [outcome] = await done;
  return { session, outcome };
}

describe('call session', () => {
  it('record-notice: answer, record, notice, bridge with whisper to the original To; recording closed at the end', async () => {
    const call = new FakeCall();
    const { outcome } = await run(call, 'record-notice');
    assert.deepEqual(call.actions, [
      'answer early',
      'record start stereo',
      'play record-notice (notice)',
      'bridge sip:bob@example.com whisper record-notice',
      'record stop',
    ]);
    assert.equal(outcome.reason, 'completed');
  });

  it('a failed bridge runs the fallback flow (the caller, still in early media, gets a final status)', async () => {
    const call = new FakeCall();
    call.bridgeResult = () => ({ kind: 'failed', status: 486, reason: 'Busy Here' });
    await run(call, 'record-notice');
    assert.deepEqual(call.actions.slice(-4), ['bridge sip:bob@example.com whisper record-notice', 'play unavailable', 'reject 480', 'record stop']);
  });

  it('a failed bridge without a fallback gives the caller the callee status', async () => {
    const call = new FakeCall();
    call.bridgeResult = () => ({ kind: 'failed', status: 486, reason: 'Busy Here' });
    const session = new CallSession(call, { f: [{ bridge: {} }] });
    await session.run('f');
    assert.equal(call.actions.at(-1), 'reject 486 Busy Here');
    assert.equal(session.vars.get('bridgeStatus'), '486');
  });

  it('menu: a digit picks its branch', async () => {
    const call = new FakeCall();
    call.promptMs = 30;
    const running = run(call, 'menu');
    setTimeout(() => call.press('2'), 10);
    await running;
    assert.deepEqual(call.actions, ['answer', 'play menu-main', 'play support', 'bye']);
    assert.ok(call.wantedAtPress[0] >= 1, 'the menu wanted the digits (in-band detection on) while the key was pressed');
    assert.equal(call.digitWanters, 0, 'and released them when it ended');
  });

  it('menu: a wrong digit plays the invalid prompt and offers the menu again', async () => {
    const call = new FakeCall();
    const session = new CallSession(call, flows);
    const running = session.run('menu');
    let offered = 0;
    const wait = setInterval(() => {
      const n = call.actions.filter((a) => a === 'play menu-main').length;
      if (n > offered) {
        offered = n;
        call.press(n === 1 ? '9' : '1');
      }
    }, 2);
    await running;
    clearInterval(wait);
    assert.deepEqual(call.actions, ['answer', 'play menu-main', 'play invalid', 'play menu-main', 'play sales', 'bye']);
    assert.equal(session.vars.get('menu'), '1');
  });

  it('menu: no input until the retries run out goes to the fallback', async () => {
    const call = new FakeCall();
    await run(call, 'menu');
    assert.deepEqual(call.actions, ['answer', 'play menu-main', 'play invalid', 'play menu-main', 'play goodbye', 'bye']);
  });

  it('collect: digits until the terminator go into a variable', async () => {
    const call = new FakeCall();
    call.promptMs = 50;
    const session = new CallSession(call, flows);
    const running = session.run('pin');
    setTimeout(() => call.press('4321#'), 5);
    await running;
    assert.equal(session.vars.get('pin'), '4321');
    assert.deepEqual(call.actions.slice(0, 2), ['answer', 'play enter-pin']);
  });

  it('barge-in: a key stops the prompt and the digit is kept for the next menu', async () => {
    const call = new FakeCall();
    call.durations.set('long', 60_000);
    const running = run(call, 'barge');
    setTimeout(() => call.press('1'), 20);
    const { outcome } = await running;
    assert.deepEqual(call.actions, ['answer', 'play long', 'play sales', 'bye'], 'menu took the barge-in digit without prompting');
    assert.deepEqual(call.wantedAtPress, [1], 'the bargeIn prompt wanted the digits');
    assert.equal(call.digitWanters, 0);
    assert.equal(outcome.reason, 'completed');
  });

  it('the caller hanging up during a prompt kills the task; the session ends at once', async () => {
    const call = new FakeCall();
    call.promptMs = 60_000;
    const running = run(call, 'record-notice');
    setTimeout(() => call.end('caller hung up'), 20);
    const { outcome } = await running;
    assert.equal(outcome.reason, 'call-ended');
    // Did not wait for the prompt (60 s): it was stopped, not played to its end, when the session ended.
    assert.deepEqual(call.playResults, ['stopped'], 'the prompt was stopped');
    assert.equal(call.playing.size, 0, 'the prompt was stopped');
    assert.equal(call.actions.at(-1), 'record stop', 'the recording is closed');
    assert.ok(!call.actions.some((a) => a.startsWith('bridge')), 'no bridge after the caller left');
  });

  it('a prompt that cannot be played fails that call with a response, not the process', async () => {
    const call = new FakeCall();
    call.failing.add('nope');
    const { outcome } = await run(call, 'missing');
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /prompt 'nope' not found/);
    assert.equal(call.actions.at(-1), 'reject 500', 'the status with its standard phrase: the error text stays in the log');
  });

  it('menu: a menu prompt that cannot be played fails the call, as in play (no silent retries, no fallback)', async () => {
    const call = new FakeCall();
    call.failing.add('menu-main');
    const { outcome } = await run(call, 'menu');
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /^menu: prompt: prompt 'menu-main' not found/);
    assert.deepEqual(call.actions, ['answer', 'play menu-main', 'bye']);
    assert.equal(call.digitWanters, 0, 'the collector was released');
  });

  it('menu: an invalidPrompt that cannot be played fails the call', async () => {
    const call = new FakeCall();
    call.failing.add('invalid');
    const running = run(call, 'menu');
    setTimeout(() => call.press('9'), 1);
    const { outcome } = await running;
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /^menu: invalidPrompt: prompt 'invalid' not found/);
    assert.deepEqual(call.actions, ['answer', 'play menu-main', 'play invalid', 'bye']);
  });

  it('collect: a prompt that cannot be played fails the call', async () => {
    const call = new FakeCall();
    call.failing.add('enter-pin');
    const { outcome, session } = await run(call, 'pin4');
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /^collect: prompt: prompt 'enter-pin' not found/);
    assert.deepEqual(call.actions, ['answer', 'play enter-pin', 'bye']);
    assert.equal(session.vars.get('pin'), undefined);
  });

  it('collect: fewer digits than minDigits is no answer: the invalid prompt, the prompt again', async () => {
    const call = new FakeCall();
    const session = new CallSession(call, flows);
    const running = session.run('pin4');
    let offered = 0;
    const wait = setInterval(() => {
      const n = call.actions.filter((a) => a === 'play enter-pin').length;
      if (n > offered) {
        offered = n;
        call.press(n === 1 ? '12#' : '4321');
      }
    }, 2);
    await running;
    clearInterval(wait);
    assert.deepEqual(call.actions, ['answer', 'play enter-pin', 'play invalid', 'play enter-pin', 'play ok', 'bye']);
    assert.equal(session.vars.get('pin'), '4321');
  });

  it('collect: no input until the retries run out goes to the fallback; the variable is not set', async () => {
    const call = new FakeCall();
    const { session } = await run(call, 'pin4');
    assert.deepEqual(call.actions, ['answer', 'play enter-pin', 'play invalid', 'play enter-pin', 'play goodbye', 'bye']);
    assert.equal(session.vars.get('pin'), undefined);
  });

  it('collect: a short input without a fallback hangs up after the retries (default 2)', async () => {
    const call = new FakeCall();
    const { session } = await run(call, 'pin-no-fallback');
    assert.deepEqual(call.actions, ['answer', 'play enter-pin', 'play enter-pin', 'play enter-pin', 'bye']);
    assert.equal(session.vars.get('pin'), undefined);
  });

  it('a flow that names a missing flow fails the call', async () => {
    const call = new FakeCall();
    const { outcome } = await run(call, 'no-such-flow');
    assert.equal(outcome.reason, 'failed');
    assert.equal(call.actions.at(-1), 'reject 500');
  });

  it('a task that throws a non-Error value fails the call cleanly: final response, recording closed, done once', async () => {
    const call = new FakeCall();
    call.bridgeResult = () => {
      throw 'not an Error';
    };
    const session = new CallSession(call, flows);
    let dones = 0;
    session.on('done', () => dones++);
    await session.run('record-notice');
    assert.equal(dones, 1);
    assert.ok(call.ended);
    assert.deepEqual(call.actions.slice(-2), ['reject 500', 'record stop']);
    const s2 = new CallSession(new FakeCall(), flows);
    const got = s2.waitFor('done', 5000);
    const c2 = s2.call as FakeCall;
    c2.bridgeResult = () => {
      throw { code: 42 };
    };
    await s2.run('record-notice');
    const [outcome] = await got;
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /non-Error: \{"code":42\}/);
  });

  it('abort() ends a flow whose task does not stop after its call ended: done, recording closed', async () => {
    const call = new FakeCall();
    call.bridgeResult = () => ({ kind: 'answered', legId: 'b', ended: new Promise(() => undefined) });
    const session = new CallSession(call, flows);
    const done = session.waitFor('done', 5000);
    const running = session.run('record-notice');
    await new Promise((r) => setTimeout(r, 50));
    call.end('caller hung up');
    session.abort();
    await running;
    const [outcome] = await done;
    assert.equal(outcome.reason, 'call-ended');
    assert.equal(call.actions.at(-1), 'record stop');
  });

  it('flows that jump forever are stopped', async () => {
    const call = new FakeCall();
    const { outcome } = await run(call, 'loop');
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error!.message, /a loop\?/);
  });
});
