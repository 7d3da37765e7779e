// DTMF in SIP INFO bodies as phones and gateways send them (parseSipInfoDtmf).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DtmfInfoError, parseSipInfoDtmf } from '../../../src/dtmf/sip-info-dtmf.ts';

describe('DTMF in SIP INFO bodies', () => {
  it('application/dtmf-relay: Signal and Duration, any case and spacing, digits 10 and 11 as * and #', () => {
    assert.deepEqual(parseSipInfoDtmf('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { digit: '5', durationMs: 160, source: 'info' });
    assert.deepEqual(parseSipInfoDtmf('Application/DTMF-Relay', 'signal= 11\nduration = 250'), { digit: '#', durationMs: 250, source: 'info' });
    assert.deepEqual(parseSipInfoDtmf('application/dtmf-relay', 'Signal=a'), { digit: 'A', durationMs: 0, source: 'info' });
  });

  it('application/dtmf: the digit alone, or the dtmf-relay lines some gateways send under this type', () => {
    assert.deepEqual(parseSipInfoDtmf('application/dtmf', '*'), { digit: '*', durationMs: 0, source: 'info' });
    assert.deepEqual(parseSipInfoDtmf('application/dtmf', ' 7\r\n'), { digit: '7', durationMs: 0, source: 'info' });
    assert.deepEqual(parseSipInfoDtmf('application/dtmf', 'Signal=3\r\nDuration=100\r\n'), { digit: '3', durationMs: 100, source: 'info' });
  });

  it('a hook flash (Cisco `Signal=!`, event 16) is no digit and no error: null', () => {
    assert.equal(parseSipInfoDtmf('application/dtmf-relay', 'Signal=!\r\nDuration=500\r\n'), null);
    assert.equal(parseSipInfoDtmf('application/dtmf-relay', 'Signal=16'), null);
    assert.equal(parseSipInfoDtmf('application/dtmf', '!'), null);
  });

  it('a body without a valid signal, or another type, is refused', () => {
    for (const [type, body] of [['application/dtmf-relay', 'Signal=x'], ['application/dtmf-relay', 'Duration=100'], ['application/dtmf', '55'], ['application/dtmf', ''], ['text/plain', '5']]) {
      assert.throws(() => parseSipInfoDtmf(type, body), DtmfInfoError, `${type} ${JSON.stringify(body)}`);
    }
  });
});
