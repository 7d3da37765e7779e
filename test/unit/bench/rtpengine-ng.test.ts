// bencode as rtpengine's ng protocol uses it: sorted dictionary keys, byte-length strings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bdecode, bencode } from '../../../bench/lib/rtpengine-ng.ts';

describe('bencode (rtpengine ng)', () => {
  it('encodes dictionaries with sorted keys, strings by byte length, integers and lists', () => {
    assert.equal(bencode({ sdp: 'v=0\r\n', command: 'offer', 'record call': 'yes', n: 42, flags: ['a', 'bé'] }).toString(),
      'd7:command5:offer5:flagsl1:a3:bée1:ni42e11:record call3:yes3:sdp5:v=0\r\ne');
  });

  it('decodes what it encodes, nested', () => {
    const v = { result: 'ok', sdp: 'v=0\r\nm=audio 30000 RTP/AVP 0\r\n', totals: { RTP: { packets: 3 } }, tags: ['x', 'y'] };
    assert.deepEqual(bdecode(bencode(v)).value, v);
    assert.throws(() => bdecode(Buffer.from('l1:a')), /unterminated/);
  });
});
