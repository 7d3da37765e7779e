// Which control connections take new requests of each verb; shared round-robin (drachtio's
// `route|<verb>`).
import type { ControlConnection } from './control-connection.ts';

export class RouteRegistry {
  private readonly routes = new Map<string, ControlConnection[]>();
  private readonly next = new Map<string, number>();

  add(verb: string, conn: ControlConnection): void {
    const v = verb.toLowerCase();
    const list = this.routes.get(v) ?? [];
    if (!list.includes(conn)) list.push(conn);
    this.routes.set(v, list);
  }

  remove(verb: string, conn: ControlConnection): void {
    const v = verb.toLowerCase();
    const list = (this.routes.get(v) ?? []).filter((c) => c !== conn);
    if (list.length) this.routes.set(v, list);
    else this.routes.delete(v);
  }

  removeConnection(conn: ControlConnection): void {
    for (const v of [...this.routes.keys()]) this.remove(v, conn);
  }

  pick(verb: string): ControlConnection | undefined {
    const list = this.routes.get(verb.toLowerCase());
    if (!list || !list.length) return undefined;
    const i = (this.next.get(verb) ?? 0) % list.length;
    this.next.set(verb, i + 1);
    return list[i];
  }

  /** The verbs some connection routed. */
  verbs(): string[] {
    return [...this.routes.keys()];
  }

  /** Every connection that routed this verb (CDR events go to all of them). */
  all(verb: string): ControlConnection[] {
    return this.routes.get(verb.toLowerCase()) ?? [];
  }
}
