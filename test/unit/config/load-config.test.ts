import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configPath, loadConfigFile, parseConfig } from '../../../src/config/load-config.ts';
import { defaultConfig } from '../../../src/config/schema.ts';

/** Asserts that parsing `yaml` fails and that one problem names `key`. */
function rejects(yaml: string, key: string, pattern: RegExp): void {
  assert.throws(
    () => parseConfig(yaml),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, 'a ConfigError');
      const line = err.problems.find((p) => p.startsWith(key + ':'));
      assert.ok(line, `a problem naming ${key}, got: ${err.problems.join(' | ')}`);
      assert.match(line, pattern);
      return true;
    },
  );
}

describe('config', () => {
  it('an empty file gives the defaults', () => {
    assert.deepEqual(parseConfig(''), defaultConfig);
  });

  it('a file states only what it changes; objects merge, arrays replace', () => {
    const c = parseConfig('media:\n  workers: 1\n  codecs: [PCMA]\n');
    assert.equal(c.media.workers, 1);
    assert.deepEqual(c.media.codecs, ['PCMA']);
    assert.equal(c.media.rtpIp, defaultConfig.media.rtpIp);
    assert.deepEqual(c.sip, defaultConfig.sip);
  });

  it('calls.holdPropagation: reinvite by default, none accepted, anything else named', () => {
    assert.equal(parseConfig('').calls.holdPropagation, 'reinvite');
    assert.equal(parseConfig('calls:\n  holdPropagation: none\n').calls.holdPropagation, 'none');
    rejects('calls:\n  holdPropagation: relay\n', 'calls.holdPropagation', /reinvite|none|allowed/);
  });

  it('the shipped parley.yaml is valid', () => {
    const c = loadConfigFile('parley.yaml');
    assert.equal(c.sip.server, 'embedded');
  });

  it('an unknown key is named', () => rejects('media:\n  wrokers: 2\n', 'media.wrokers', /unknown key/));
  it('media.threads takes a count or auto, and names itself when wrong', () => {
    assert.equal(parseConfig('media:\n  threads: 0\n').media.threads, 0);
    assert.equal(parseConfig('media:\n  threads: auto\n').media.threads, 'auto');
    assert.equal(parseConfig('').media.threads, 'auto', 'one per core by default');
    rejects('media:\n  threads: -1\n', 'media.threads', /number of media threads|auto/);
    rejects('media:\n  threads: many\n', 'media.threads', /number of media threads|auto/);
  });
  it('an unknown top-level key is named', () => rejects('sipp: {}\n', 'sipp', /unknown key/));
  it('a wrong type is named', () => rejects('log:\n  pretty: "yes"\n', 'log.pretty', /boolean/));
  it('a value out of range is named', () =>
    rejects('media:\n  rtpPortRange: { min: 40000, max: 70000 }\n', 'media.rtpPortRange.max', /<= 65535/));
  it('a value outside an enum lists the allowed values', () =>
    rejects('sip:\n  server: kamailio\n', 'sip.server', /"embedded", "remote"/));
  it('a bad array item is named by index', () =>
    rejects('sip:\n  listen: [{ transport: sctp, host: 127.0.0.1, port: 5060 }]\n', 'sip.listen.0.transport', /one of/));
  it('a missing key in an array item is named', () =>
    rejects('sip:\n  listen: [{ transport: udp, port: 5060 }]\n', 'sip.listen.0', /host/));
  it('a tls listener needs cert and key', () =>
    rejects('sip:\n  listen: [{ transport: tls, host: 127.0.0.1, port: 5061, key: k.pem }]\n', 'sip.listen.0', /required property 'cert'/));
  it('TLS keys on a udp listener are refused', () =>
    rejects('sip:\n  listen: [{ transport: udp, host: 127.0.0.1, port: 5060, cert: c.pem }]\n', 'sip.listen.0', /transport tls/));
  it('requireClientCert needs a ca', () =>
    rejects('sip:\n  listen: [{ transport: tls, host: 127.0.0.1, port: 5061, cert: c.pem, key: k.pem, requireClientCert: true }]\n', 'sip.listen.0.ca', /requireClientCert/));
  it('the per-source budget keys default for one busy upstream and name themselves when wrong', () => {
    const c = parseConfig('');
    // 2,000 messages a second of up to 2.5 KB (or 40 lines) each from one proxy address stay within the defaults.
    assert.equal(c.sip.sourceBytesPerSecond, 5000000);
    assert.equal(c.sip.sourceBurstBytes, 5000000);
    assert.equal(c.sip.sourceCpuMsPerSecond, 500);
    assert.equal(c.sip.sourceMaxPausedMs, 30000);
    assert.equal(parseConfig('sip:\n  sourceBytesPerSecond: 0\n  sourceCpuMsPerSecond: 0\n').sip.sourceBytesPerSecond, 0);
    rejects('sip:\n  sourceBytesPerSecond: -1\n', 'sip.sourceBytesPerSecond', />= 0/);
    rejects('sip:\n  sourceCpuMsPerSecond: 2000\n', 'sip.sourceCpuMsPerSecond', /<= 1000/);
    rejects('sip:\n  sourceBurstBytes: 10\n', 'sip.sourceBurstBytes', />= 1024/);
    rejects('sip:\n  sourceMaxPausedMs: fast\n', 'sip.sourceMaxPausedMs', /integer/);
  });
  it('sip.dns: NAPTR and SRV on with the system servers by default; a server that is not an address is named', () => {
    assert.deepEqual(parseConfig('').sip.dns, { srv: true, servers: [], timeoutMs: 2000, cacheSec: 60, failoverAfterMs: 4000 });
    assert.equal(parseConfig('sip:\n  dns: { failoverAfterMs: 0 }\n').sip.dns.failoverAfterMs, 0);
    rejects('sip:\n  dns: { failoverAfterMs: 60000 }\n', 'sip.dns.failoverAfterMs', /<= 32000/);
    assert.deepEqual(parseConfig('sip:\n  dns: { servers: ["10.0.0.53", "127.0.0.1:5353", "[::1]:53"] }\n').sip.dns.servers, ['10.0.0.53', '127.0.0.1:5353', '[::1]:53']);
    rejects('sip:\n  dns: { servers: [dns.example.com] }\n', 'sip.dns.servers.0', /pattern/);
    rejects('sip:\n  dns: { timeoutMs: 5 }\n', 'sip.dns.timeoutMs', />= 100/);
    rejects('sip:\n  dns: { naptr: false }\n', 'sip.dns.naptr', /unknown key/);
  });
  it('a tls listener with cert, key and ca is valid', () => {
    const c = parseConfig('sip:\n  listen: [{ transport: tls, host: 127.0.0.1, port: 5061, cert: c.pem, key: k.pem, ca: ca.pem, requireClientCert: true }]\n');
    assert.equal(c.sip.listen[0].transport, 'tls');
  });
  it('bridge to: request-uri and a rule bridgeTo are valid; other words are refused', () => {
    const c = parseConfig('routing:\n  rules: [{ name: r, actions: [{ app: f, bridgeTo: request-uri }] }]\nflows:\n  f: [{ bridge: { to: request-uri } }]\n');
    assert.deepEqual(c.routing.rules[0].actions[0], { app: 'f', bridgeTo: 'request-uri' });
    rejects('flows:\n  f: [{ bridge: { to: elsewhere } }]\n', 'flows.f.0.bridge.to', /request-uri/);
    rejects('routing:\n  rules: [{ name: r, actions: [{ app: f, bridgeTo: from }] }]\nflows:\n  f: [hangup]\n', 'routing.rules.0.actions.0.bridgeTo', /"to", "request-uri"/);
  });
  it('workers must be a number or auto', () => rejects('media:\n  workers: many\n', 'media.workers', /"auto"/));
  it('an unknown codec is refused', () => rejects('media:\n  codecs: [GSM]\n', 'media.codecs.0', /one of/));
  it('an inverted port range is named', () =>
    rejects('media:\n  rtpPortRange: { min: 50000, max: 40000 }\n', 'media.rtpPortRange.min', /above/));
  it('media.webrtc: an inverted port range, a timeout under 10 s and an unknown key are named', () => {
    rejects('media:\n  webrtc: { portRange: { min: 51000, max: 50000 } }\n', 'media.webrtc.portRange.min', /above/);
    rejects('media:\n  webrtc: { timeoutSec: 3 }\n', 'media.webrtc.timeoutSec', />= 10/);
    rejects('media:\n  webrtc: { listen: 0.0.0.0 }\n', 'media.webrtc.listen', /unknown/);
    rejects('media:\n  webrtc: { maxSessions: -1 }\n', 'media.webrtc.maxSessions', />= 0/);
    rejects('media:\n  webrtc: { maxSessionsPerToken: many }\n', 'media.webrtc.maxSessionsPerToken', /integer/);
    const c = parseConfig('media:\n  webrtc: { announcedAddress: media.example.com }\n');
    assert.equal(c.media.webrtc.announcedAddress, 'media.example.com');
    assert.equal(c.media.webrtc.timeoutSec, 30, 'the other keys keep their defaults');
    assert.deepEqual([c.media.webrtc.maxSessions, c.media.webrtc.maxSessionsPerToken], [200, 20]);
  });
  it('inverted jitter bounds are named', () =>
    rejects('media:\n  mixer: { jitterMinMs: 80, jitterMaxMs: 40 }\n', 'media.mixer.jitterMinMs', /above/));
  it('all problems are reported at once', () => {
    try {
      parseConfig('log: { level: loud }\nmedia: { workers: 0 }\n');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.problems.some((p) => p.startsWith('log.level:')));
      assert.ok(err.problems.some((p) => p.startsWith('media.workers:')));
    }
  });

  it('a YAML syntax error names the line', () => {
    assert.throws(() => parseConfig('log:\n  level: info\n   pretty: [\n'), /YAML syntax \(line \d+\)/);
  });

  it('a top level that is not a mapping is refused', () => {
    assert.throws(() => parseConfig('- a\n- b\n'), /must be a mapping/);
  });

  it('a missing file is a ConfigError naming the file and how to name another', () => {
    assert.throws(() => loadConfigFile('/nonexistent/parley.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /\/nonexistent\/parley\.yaml/);
      assert.match(err.problems[0] ?? '', /cannot read/);
      assert.match(err.problems[0] ?? '', /--config FILE or PARLEY_CONFIG/);
      return true;
    });
  });

  it('the path comes from --config, then PARLEY_CONFIG, then ./parley.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-cfg-'));
    const f = join(dir, 'x.yaml');
    writeFileSync(f, 'log: { level: debug }\n');
    assert.equal(configPath(['--config', f], {}), f);
    assert.equal(configPath([`--config=${f}`], {}), f);
    assert.equal(configPath([], { PARLEY_CONFIG: f }), f);
    assert.equal(configPath([], {}), join(process.cwd(), 'parley.yaml'));
    assert.equal(loadConfigFile(configPath(['-c', f], {})).log.level, 'debug');
    assert.throws(() => configPath(['--config'], {}), /needs a file path/);
  });
});
