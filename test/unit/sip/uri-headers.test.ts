// splitUriHeaders: a URI's headers component (RFC 3261 §19.1.1, §19.1.5) split off into the
// headers of the request formed from it, the dangerous ones left out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitUriHeaders } from '../../../src/sip/message/uri-headers.ts';

describe('splitUriHeaders', () => {
  it('headers after the host go in the request, escaped values decoded, names canonical', () => {
    assert.deepEqual(splitUriHeaders('sip:bob@example.com;user=phone?subject=hello%20there&Priority=urgent'), {
      uri: 'sip:bob@example.com;user=phone',
      headers: [{ name: 'Subject', value: 'hello there' }, { name: 'Priority', value: 'urgent' }],
      ignored: [],
    });
  });

  it('a URI without headers, a tel: URI and a ? in the userinfo are left as they are', () => {
    assert.deepEqual(splitUriHeaders('sip:bob@example.com'), { uri: 'sip:bob@example.com', headers: [], ignored: [] });
    assert.deepEqual(splitUriHeaders('tel:+15551234'), { uri: 'tel:+15551234', headers: [], ignored: [] });
    assert.deepEqual(splitUriHeaders('sip:a?b@example.com'), { uri: 'sip:a?b@example.com', headers: [], ignored: [] });
  });

  it('framing headers (compact forms too), bad names and CR/LF in a value are ignored', () => {
    const r = splitUriHeaders('sip:bob@h?Call-ID=x&i=y&Via=v&Max-Forwards=1&Route=%3Csip:e%3E&From=f&body=b&Bad%20Name=1&X-A=a%0D%0AX-B:%20b&X-Ok=1');
    assert.equal(r.uri, 'sip:bob@h');
    assert.deepEqual(r.headers, [{ name: 'X-Ok', value: '1' }]);
    assert.deepEqual(r.ignored, ['Call-ID', 'i', 'Via', 'Max-Forwards', 'Route', 'From', 'body', 'Bad Name', 'X-A']);
  });
});
