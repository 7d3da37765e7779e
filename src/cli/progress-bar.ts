// A progress bar for long command-line work. On a terminal it redraws one line
// (`[#####.....] 3/12 name`); elsewhere (CI logs, pipes) it prints a line per step.
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
    this.done++;
    const line = `${this.bar()} ${this.done}/${this.total} ${failed ? 'FAILED ' : ''}${label}`;
    if (this.tty) this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns || 80) - 1)}`);
    else this.out.write(line + '\n');
  }

  finish(): void {
    if (this.tty) this.out.write('\n');
  }

  private bar(): string {
    const filled = this.total === 0 ? this.width : Math.round((this.done / this.total) * this.width);
    return `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}]`;
  }
}
