import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toLoopsBack } from '../../../src/call/loops-back.ts';

describe('toLoopsBack: a To that would bring the B leg back to Parley', () => {
  const at = '127.0.0.1:5060';
  it('a To without a port on the host Parley listens on at 5060, the Request-URI elsewhere', () => {
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at }), true);
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1:5060;transport=udp', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at }), true);
  });
  it('not when the To names another port or host, or the Request-URI is Parley too', () => {
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1:5070', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at }), false);
    assert.equal(toLoopsBack({ to: 'sip:bob@example.com', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at }), false);
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1', requestUri: 'sip:parley@127.0.0.1', receivedOn: at }), false);
    assert.equal(toLoopsBack({ to: 'sips:bob@127.0.0.1', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at }), false, 'sips: defaults to 5061');
    assert.equal(toLoopsBack({ to: 'sips:bob@127.0.0.1', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: '127.0.0.1:5061' }), true);
  });
  it('not with an outbound proxy (it may route a To in our domain by user) or an unknown arrival address', () => {
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: at, outboundProxy: 'sip:127.0.0.1:5080' }), false);
    assert.equal(toLoopsBack({ to: 'sip:bob@127.0.0.1', requestUri: 'sip:bob@127.0.0.1:5070', receivedOn: undefined }), false);
  });
  it('reads the host after a user part that holds ; (an IMS number with phone-context)', () => {
    assert.equal(toLoopsBack({ to: 'sip:+15551234;phone-context=ims.example@127.0.0.1;user=phone', requestUri: 'sip:+15551234;phone-context=ims.example@127.0.0.1:5070;user=phone', receivedOn: at }), true);
  });
  it('IPv6: brackets in the URI, none in receivedOn', () => {
    assert.equal(toLoopsBack({ to: 'sip:bob@[::1]', requestUri: 'sip:bob@[::1]:5070', receivedOn: '::1:5060' }), true);
    assert.equal(toLoopsBack({ to: 'sip:bob@[::1]:5070', requestUri: 'sip:bob@[::1]:5070', receivedOn: '::1:5060' }), false);
  });
});
