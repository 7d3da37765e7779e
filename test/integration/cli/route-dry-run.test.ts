// `parley route --dry-run FILE` as a user runs it: the real command line, a
// config file with a rule chain, a SIP request in a file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const config = `
routing:
  proxyByDefault: false
  rules:
    - name: strip-lync
      match: { headers: { Ms-Target-Class: { present: true } } }
      actions: [{ headers: { remove: [Ms-Target-Class, Ms-Sensitivity] } }]
    - name: only-im
      match: { media: message }
      actions: [{ proxy: null }]
    - name: gateway
      match: { method: INVITE, media: audio, source: 10.0.0.0/8 }
      actions: [{ app: record-notice }]
flows:
  record-notice: [answer, hangup]
`;

function parley(args: string[], input?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-dry-'));
  const cfg = join(dir, 'parley.yaml');
  writeFileSync(cfg, config);
  const r = spawnSync('bin/parley', ['route', ...args, '--config', cfg], { encoding: 'utf8', input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('parley route --dry-run', () => {
  it('--help prints the usage, an unknown option the usage and exit 2 (as on every command): never a stack trace', () => {
    const help = parley(['--help']);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^usage: parley route --dry-run FILE/);
    const bad = parley(['--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /usage: parley route/);
    assert.doesNotMatch(bad.err, /\n\s+at /);
  });

  it('prints each rule, what matched, the header edits and the result', () => {
    const r = parley(['--dry-run', 'test/fixtures/sip/invite-audio.sip', '--source', '10.1.2.3']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^INVITE sip:bob@example\.com/);
    assert.match(r.out, /✔ strip-lync: matched/);
    assert.match(r.out, /· only-im: no-match \(failed: media\)/);
    assert.match(r.out, /header remove Ms-Target-Class/);
    assert.match(r.out, /result: run flow 'record-notice' — by rule 'gateway'/);
  });

  it('header edits before an app rule are reported as not applied (a flow places its own legs)', () => {
    const r = parley(['--dry-run', 'test/fixtures/sip/invite-audio.sip', '--source', '10.1.2.3']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /header edits not applied: a flow takes the request and places its own legs/);
    assert.match(r.out, /\(not applied\) header remove Ms-Target-Class/);
  });

  it('a request from outside the source range is declined by proxyByDefault off; --json gives the decision', () => {
    const r = parley(['--dry-run', 'test/fixtures/sip/invite-audio.sip', '--source', '192.0.2.1', '--json']);
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out) as { outcome: { kind: string; status: number }; decidedBy: string | null };
    assert.deepEqual([d.outcome.kind, d.outcome.status, d.decidedBy], ['respond', 403, null]);
  });

  it('reads the request from stdin with -', () => {
    const r = parley(['--dry-run', '-'], 'MESSAGE sip:bob@example.com SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /result: respond 403/);
  });

  it('a file that is not a SIP request is a clear error, exit 2', () => {
    const r = parley(['--dry-run', '-'], 'hello world\n');
    assert.equal(r.code, 2);
    assert.match(r.err, /parley route: not a SIP/);
  });

  it('a missing file is a clear error', () => {
    const r = parley(['--dry-run', '/nonexistent.sip']);
    assert.equal(r.code, 2);
    assert.match(r.err, /ENOENT.*nonexistent\.sip/);
  });
});

describe('parley route --dry-run with the shipped parley.yaml', () => {
  const shipped = (input: string) => spawnSync('bin/parley', ['route', '--dry-run', '-', '--config', 'parley.yaml', '--json'], { encoding: 'utf8', input });
  const siprec = readFileSync('test/fixtures/sip/invite-siprec.sip', 'utf8');

  it('a SIPREC INVITE (a +sip.src Contact, or Require: siprec) goes to the siprec flow, not to the record-notice gateway', () => {
    for (const [input, rule] of [
      [siprec, 'siprec-src-contact'],
      [siprec.replace(';+sip.src', '').replace('Max-Forwards: 70\r\n', 'Require: siprec\r\nMax-Forwards: 70\r\n'), 'siprec'],
    ] as const) {
      const r = shipped(input);
      assert.equal(r.status, 0, r.stderr);
      const d = JSON.parse(r.stdout) as { outcome: { kind: string; flow: string }; decidedBy: string };
      assert.deepEqual([d.outcome.kind, d.outcome.flow, d.decidedBy], ['app', 'siprec', rule]);
    }
  });

  it('an ordinary audio INVITE still goes to the record-notice gateway', () => {
    const r = shipped(readFileSync('test/fixtures/sip/invite-audio.sip', 'utf8'));
    const d = JSON.parse(r.stdout) as { outcome: { flow: string } };
    assert.equal(d.outcome.flow, 'record-notice');
  });
});
