// media.rtpIp / announcedIp (IPv4) and media.rtpIp6 / announcedIp6 (IPv6): each
// family in its key, named when wrong; no unspecified address ends up in SDP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load-config.ts';

function problem(yaml: string, key: string): string {
  try {
    parseConfig(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, 'a ConfigError');
    const line = err.problems.find((p) => p.startsWith(key + ':'));
    assert.ok(line, `a problem naming ${key}, got: ${err.problems.join(' | ')}`);
    return line;
  }
  assert.fail(`accepted: ${yaml}`);
}

describe('media address keys', () => {
  it('no IPv6 media by default', () => {
    const c = parseConfig('');
    assert.equal(c.media.rtpIp6, null);
    assert.equal(c.media.announcedIp6, null);
  });

  it('takes an IPv6 media address, with an announced one', () => {
    const c = parseConfig("media:\n  rtpIp6: '::1'\n");
    assert.equal(c.media.rtpIp6, '::1');
    const d = parseConfig("media:\n  rtpIp6: '::'\n  announcedIp6: '2001:db8::5'\n  rtpIp: 0.0.0.0\n  announcedIp: 192.0.2.5\n");
    assert.equal(d.media.announcedIp6, '2001:db8::5');
  });

  it('names each key when its address is of the wrong family or no address', () => {
    assert.match(problem("media:\n  rtpIp6: 127.0.0.1\n", 'media.rtpIp6'), /must be an IPv6 address/);
    assert.match(problem("media:\n  rtpIp6: 'fe80::1%eth0'\n", 'media.rtpIp6'), /without a zone/);
    assert.match(problem("media:\n  rtpIp: '::1'\n", 'media.rtpIp'), /IPv6 address; .*media\.rtpIp6/);
    assert.match(problem('media:\n  rtpIp: media.example.com\n', 'media.rtpIp'), /must be an IPv4 address/);
    assert.match(problem("media:\n  announcedIp: '2001:db8::1'\n", 'media.announcedIp'), /media\.announcedIp6/);
    assert.match(problem("media:\n  rtpIp6: '::1'\n  announcedIp6: 192.0.2.1\n", 'media.announcedIp6'), /must be an IPv6 address/);
    assert.match(problem("media:\n  announcedIp6: '2001:db8::1'\n", 'media.announcedIp6'), /needs media\.rtpIp6/);
    assert.match(problem('media:\n  rtpIp6: 5\n', 'media.rtpIp6'), /string/);
  });

  it('an unspecified bind address needs an announced one (0.0.0.0 and :: in SDP mean hold)', () => {
    assert.match(problem("media:\n  rtpIp6: '::'\n", 'media.announcedIp6'), /required when media\.rtpIp6 is ::/);
    assert.match(problem('media:\n  rtpIp: 0.0.0.0\n', 'media.announcedIp'), /required when media\.rtpIp is 0\.0\.0\.0/);
    assert.match(problem("media:\n  rtpIp6: '::1'\n  announcedIp6: '::'\n", 'media.announcedIp6'), /other than ::/);
  });
});
