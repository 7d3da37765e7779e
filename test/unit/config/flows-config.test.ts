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
  it('a siprec step not first, or a siprec flow reached by goto or fallback, is refused, naming the key', () => {
    bad('flows:\n  f:\n    - answer\n    - siprec\n', /flows\.f\.1\.siprec: must be the flow's first step/);
    bad('flows:\n  s:\n    - siprec\n  f:\n    - answer\n    - goto: s\n', /flows\.f\.1\.goto: flow 's' starts with a siprec step/);
    bad("flows:\n  s:\n    - siprec\n  f:\n    - menu: { prompt: { prompt: m }, branches: { '1': s } }\n", /flows\.f\.0\.menu\.branches\.1: flow 's' starts with a siprec step/);
  });
  it('a goto to a missing flow is named', () => bad('flows:\n  f:\n    - goto: g\n', /flows\.f\.0\.goto: no flow named 'g'/));
  it('a menu branch to a missing flow is named', () =>
    bad('flows:\n  f:\n    - menu: { prompt: { prompt: m }, branches: { "1": sales } }\n', /flows\.f\.0\.menu\.branches\.1: no flow named 'sales'/));
  it('a menu branch that can never be chosen is refused, naming the key', () => {
    const menu = (extra: string, branches: string) => `flows:\n  s: [{ hangup: null }]\n  f:\n    - answer\n    - menu: { prompt: { prompt: m }, branches: { ${branches} }${extra} }\n`;
    bad(menu(', maxDigits: 1', '"12": s, "2": s'), /flows\.f\.1\.menu\.branches\.12: can never be chosen: longer than maxDigits \(1\)/);
    bad(menu(', terminator: "#"', '"1#": s, "2": s'), /flows\.f\.1\.menu\.branches\.1#: can never be chosen: holds the terminator '#'/);
    bad(menu(', minDigits: 2', '"1": s, "22": s'), /flows\.f\.1\.menu\.branches\.1: can never be chosen: shorter than minDigits \(2\)/);
    bad(menu(', minDigits: 3', '"1": s, "22": s'), /flows\.f\.1\.menu\.minDigits: must not be above maxDigits \(2\)/);
    // maxDigits defaults to the longest branch: "1" and "12" are both reachable (the shorter one by timeout or terminator).
    assert.doesNotThrow(() => parseConfig(menu(', terminator: "#"', '"1": s, "12": s, "*": s')));
  });
  it("a collect's minDigits above its maxDigits is refused, naming the key", () => {
    bad('flows:\n  f:\n    - collect: { into: x, maxDigits: 1, minDigits: 5 }\n', /flows\.f\.0\.collect\.minDigits: must not be above maxDigits \(1\)/);
    bad('flows:\n  f:\n    - collect: { into: x, minDigits: 2 }\n', /flows\.f\.0\.collect\.minDigits: must not be above maxDigits \(1\)/);
    assert.doesNotThrow(() => parseConfig('flows:\n  f:\n    - collect: { into: x, maxDigits: 4, minDigits: 4 }\n'));
  });
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
