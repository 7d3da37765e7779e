// An explicit state with a table of legal moves; an illegal transition() throws, so a
// transaction can never drift into a state the RFC's diagrams do not have.

export class GuardedState<S extends string> {
  private current: S;

  constructor(
    initial: S,
    private readonly legal: Readonly<Record<S, readonly S[]>>,
    private readonly what: string,
  ) {
    this.current = initial;
  }

  get value(): S {
    return this.current;
  }

  transition(to: S): void {
    if (!this.legal[this.current].includes(to)) {
      throw new Error(`${this.what}: illegal transition ${this.current} -> ${to}`);
    }
    this.current = to;
  }

  is(...states: S[]): boolean {
    return states.includes(this.current);
  }
}
