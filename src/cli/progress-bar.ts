// A progress bar for long command-line work. On a terminal it redraws one line
// (`[#####.....] 3/12 name`); elsewhere (CI logs, pipes) it prints a line per
// step, or per tenth of the work for `update()`.
export class ProgressBar {
  private done = 0;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  /** One step finished; `label` says which. */
  tick(label: string, failed = false): void {
    this.done = Math.min(this.total, this.done + 1);
    this.draw(`${this.done}/${this.total} ${failed ? 'FAILED ' : ''}${label}`);
  }

  /** The fraction (0..1) of work measured in something other than steps (encoded milliseconds). */
  update(fraction: number, label: string): void {
    const next = Math.max(0, Math.min(this.total, Math.round(fraction * this.total)));
    if (next <= this.done) return;
    const tenth = (n: number): number => Math.floor((n * 10) / this.total);
    const quiet = !this.tty && tenth(next) === tenth(this.done) && next < this.total;
    this.done = next;
    if (!quiet) this.draw(`${Math.round((next / this.total) * 100)}% ${label}`);
  }

  finish(): void {
    if (this.tty) this.out.write('\n');
  }

  private draw(text: string): void {
    const filled = this.total === 0 ? this.width : Math.round((this.done / this.total) * this.width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${text}`;
    if (this.tty) this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns || 80) - 1)}`);
    else this.out.write(line + '\n');
  }
}
