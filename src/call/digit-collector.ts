// Collects DTMF digits from a call for menus and collect steps. Digits are taken
// from the moment it is created (type-ahead during a prompt); the timers start
// when arm() is called, once the prompt has finished.
import type { CallPort } from './ports.ts';

export interface DigitCollectorOptions {
  maxDigits: number;
  minDigits: number;
  terminator: string | undefined;
  /** Milliseconds. */
  interDigitTimeout: number;
  timeout: number;
}

export type CollectEnd = 'max' | 'terminator' | 'timeout' | 'ended';

export interface Collected {
  digits: string;
  end: CollectEnd;
  /** At least minDigits digits came: fewer is not an answer (a menu or collect offers its prompt again). */
  complete: boolean;
}

export class DigitCollector {
  private digits = '';
  private timerOverall: NodeJS.Timeout | null = null;
  private timerInterDigit: NodeJS.Timeout | null = null;
  private armed = false;
  private settled = false;
  private resolve!: (c: Collected) => void;
  readonly done: Promise<Collected>;
  private readonly onDigit = (d: string): void => this.push(d);
  /** Ends this collector's claim on the caller's digits (in-band detection, digit-demand.ts). */
  private readonly releaseDigits: () => void;
  private readonly onEnded = (): void => this.finish('ended');

  constructor(
    private readonly call: CallPort,
    pending: string[],
    private readonly options: DigitCollectorOptions,
  ) {
    this.done = new Promise((r) => (this.resolve = r));
    call.on('dtmf', this.onDigit);
    call.on('ended', this.onEnded);
    this.releaseDigits = call.wantDigits();
    for (const d of pending.splice(0)) this.push(d);
    if (call.ended) this.finish('ended');
  }

  /** How many digits have arrived so far. */
  get count(): number {
    return this.digits.length;
  }

  /** Starts the overall timeout (and the inter-digit one if digits already came). */
  arm(): void {
    if (this.armed || this.settled) return;
    this.armed = true;
    this.timerOverall = setTimeout(() => this.finish('timeout'), this.options.timeout);
    if (this.digits.length > 0) this.restartInterDigit();
  }

  /** Stops collecting; what was collected so far is the result. Idempotent. */
  cancel(): void {
    this.finish('ended');
  }

  private push(digit: string): void {
    if (this.settled) return;
    if (this.options.terminator && digit === this.options.terminator) {
      this.finish('terminator');
      return;
    }
    this.digits += digit;
    if (this.digits.length >= this.options.maxDigits) {
      this.finish('max');
      return;
    }
    if (this.armed) this.restartInterDigit();
  }

  private restartInterDigit(): void {
    if (this.timerInterDigit) clearTimeout(this.timerInterDigit);
    this.timerInterDigit = setTimeout(() => this.finish('timeout'), this.options.interDigitTimeout);
  }

  private finish(end: CollectEnd): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timerOverall) clearTimeout(this.timerOverall);
    if (this.timerInterDigit) clearTimeout(this.timerInterDigit);
    this.timerOverall = this.timerInterDigit = null;
    this.call.off('dtmf', this.onDigit);
    this.call.off('ended', this.onEnded);
    this.releaseDigits();
    this.resolve({ digits: this.digits, end, complete: this.digits.length >= this.options.minDigits });
  }
}
