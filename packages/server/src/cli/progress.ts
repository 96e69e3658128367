/** A one-line progress counter on stderr, only when stderr is a terminal. */
export class Progress {
  private lastDraw = 0;
  private readonly enabled = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const percent = this.total > 0 ? Math.min(100, Math.floor((done / this.total) * 100)) : 100;
    process.stderr.write(`\r${this.label}: ${done}/${this.total} (${percent}%)`);
  }

  done(): void {
    if (this.enabled) process.stderr.write('\n');
  }
}
