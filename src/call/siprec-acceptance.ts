// Whether a SIPREC session is accepted at all (siprec.enabled) and from where
// (siprec.sources), decided before any media is set up.
import type { SiprecConfig } from '../config/siprec-schema.ts';
import { compileSource, type Matcher } from '../policy/pattern.ts';

export interface SiprecRefusal {
  status: 403 | 420;
  reason: string;
  headers: Record<string, string>;
}

export class SiprecAcceptance {
  private readonly sources: Matcher[];

  constructor(private readonly config: Pick<SiprecConfig, 'enabled' | 'sources'> | undefined) {
    this.sources = (config?.sources ?? []).map(compileSource);
  }

  /** null: accepted. Else the answer to the INVITE. */
  check(source: string | undefined, require: string | undefined): SiprecRefusal | null {
    if (this.config && !this.config.enabled) {
      // RFC 3261 §8.2.2.3: a Require option tag the UAS does not support is 420 with Unsupported.
      if (/(^|[\s,])siprec($|[\s,;])/i.test(require ?? '')) return { status: 420, reason: 'Bad Extension', headers: { Unsupported: 'siprec' } };
      return { status: 403, reason: 'SIPREC Not Accepted', headers: {} };
    }
    if (this.sources.length > 0 && !(source && this.sources.some((m) => m(source)))) {
      return { status: 403, reason: 'SIPREC Not Accepted From This Source', headers: {} };
    }
    return null;
  }
}
