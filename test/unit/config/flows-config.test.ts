import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const bad = (yaml: string, re: RegExp) => assert.throws(() => parseConfig(yaml), re);

describe('flows config', () => {
  it('the shipped parley.yaml flows and rules load and refer to each other', async () => {
    const { loadConfigFile } = await import('../../../src/config/load-config.ts');
    const c = loadConfigFile('parley.yaml');
    assert.ok(c.flows['record-notice'], 'the record-notice demo flow');
    assert.ok(c.routing.rules.some((r) => r.actions.some((a) => 'app' in a && a.app === 'record-notice')));
  });

  it('a status Parley could not send (not in drachtio-srf\'s table) is refused at load, naming the key', () => {
    bad('routing:\n  rules:\n    - name: a\n      match: { method: INVITE }\n      actions: [{ respond: { status: 699, reason: Odd } }]\n', /routing\.rules\.0\.actions\.0\.respond\.status: 699 is not a status Parley can send/);
    bad('routing:\n  rules:\n    - name: a\n      match: { method: INVITE }\n      actions: [{ redirect: { status: 303, contacts: ["sip:x@y"] } }]\n', /redirect\.status: 303 .*300, 301, 302, 305, 380/);
    bad('flows:\n  f: [{ hangup: { status: 499 } }]\n', /flows\.f\.0\.hangup\.status: 499/);
    bad('routing:\n  rules:\n    - name: a\n      match: { method: [INVITE, OPTIONS] }\n      actions: [{ respond: { status: 200 } }]\n', /respond\.status: 200 would answer an INVITE with no SDP/);
    assert.doesNotThrow(() => parseConfig('routing:\n  rules:\n    - name: a\n      match: { method: OPTIONS }\n      actions: [{ respond: { status: 200 } }]\n'));
    assert.doesNotThrow(() => parseConfig('routing:\n  rules:\n    - name: a\n      match: { method: INVITE }\n      actions: [{ respond: { status: 603 } }]\n'));
  });

  it('steps may be written as bare answer / hangup', () => {
    const c = parseConfig('flows:\n  f:\n    - answer\n    - play: { prompt: hello }\n    - hangup\n');
    assert.deepEqual(c.flows.f, [{ answer: null }, { play: { prompt: 'hello' } }, { hangup: null }]);
  });

  it('an unknown task is named with its position', () =>
    bad('flows:\n  f:\n    - answer\n    - dance: {}\n', /flows\.f\.1: must be one of answer, play/));
  it('a play needs exactly one of prompt, text, tone', () =>
    bad('flows:\n  f:\n    - play: { prompt: a, text: b }\n', /flows\.f\.0\.play: must be one of prompt, text or tone/));
  it('a bad tone is refused', () => bad('flows:\n  f:\n    - play: { tone: siren }\n', /flows\.f\.0\.play\.tone/));
  it('menu branches must be digits', () =>
    bad('flows:\n  f:\n    - menu: { prompt: { prompt: m }, branches: { x: f } }\n', /flows\.f\.0\.menu\.branches/));
  it('a goto to a missing flow is named', () => bad('flows:\n  f:\n    - goto: g\n', /flows\.f\.0\.goto: no flow named 'g'/));
  it('a menu branch to a missing flow is named', () =>
    bad('flows:\n  f:\n    - menu: { prompt: { prompt: m }, branches: { "1": sales } }\n', /flows\.f\.0\.menu\.branches\.1: no flow named 'sales'/));
  it("a collect's retries, invalidPrompt and fallback are read; a missing fallback flow is named", () => {
    const c = parseConfig('flows:\n  g: [{ hangup: null }]\n  f:\n    - collect: { into: x, retries: 1, invalidPrompt: { prompt: i }, fallback: g }\n');
    assert.deepEqual(c.flows.f[0], { collect: { into: 'x', retries: 1, invalidPrompt: { prompt: 'i' }, fallback: 'g' } });
    bad('flows:\n  f:\n    - collect: { into: x, fallback: nowhere }\n', /flows\.f\.0\.collect\.fallback: no flow named 'nowhere'/);
  });
  it('a rule running a missing flow is named', () =>
    bad('routing:\n  rules: [{ name: a, actions: [{ app: nowhere }] }]\n', /routing\.rules\.0\.actions\.0\.app: no flow named 'nowhere'/));
  it("a bridge's callerHears is ringback, notice, silence or a prompt", () => {
    for (const v of ['ringback', 'notice', 'silence', '{ prompt: hold-music }', '{ tone: beep }']) {
      const c = parseConfig(`flows:\n  f:\n    - bridge: { callerHears: ${v} }\n`);
      assert.ok('bridge' in c.flows.f[0]! && c.flows.f[0].bridge.callerHears, v);
    }
  });
  it('an unknown callerHears is refused', () => bad('flows:\n  f:\n    - bridge: { callerHears: music }\n', /flows\.f\.0\.bridge\.callerHears/));
  it('a conference room name cannot hold a path', () =>
    bad('flows:\n  f:\n    - conference: { room: ../etc }\n', /flows\.f\.0\.conference\.room/));
});
