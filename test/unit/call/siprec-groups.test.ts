// SIPREC groups (RFC 7865 §6.2): a session's `linked` recordings are the earlier ones of its
// group, those this process recorded and, for a group it has not seen (after a restart),
// those the recordings index has on disk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SiprecGroups } from '../../../src/call/siprec-groups.ts';

describe('SiprecGroups', () => {
  it('links each recording to the earlier ones of its group, in order', () => {
    const g = new SiprecGroups();
    assert.deepEqual(g.link('g', 'r1'), []);
    assert.deepEqual(g.link('g', 'r2'), ['r1']);
    assert.deepEqual(g.link('other', 'r3'), []);
    assert.deepEqual(g.link('g', 'r4'), ['r1', 'r2']);
  });

  it('a group first seen here starts from the recordings on disk (asked once), without the new one itself', () => {
    const asked: string[] = [];
    const g = new SiprecGroups((group) => {
      asked.push(group);
      return group === 'g' ? ['old1', 'old2', 'r5'] : [];
    });
    assert.deepEqual(g.link('g', 'r5'), ['old1', 'old2']);
    assert.deepEqual(g.link('g', 'r6'), ['old1', 'old2', 'r5']);
    assert.deepEqual(g.link('new', 'r7'), []);
    assert.deepEqual(asked, ['g', 'new']);
  });
});
