// The progress line on stderr: which section of the run is going (and how many there are),
// what runs in it, and the time so far. On a terminal one line is redrawn in place (cut to
// the terminal's width, at most 100 columns); in a log each section gets one line.

export class Progress {
  constructor(total, stream = process.stderr) {
    this.total = total;
    this.done = 0;
    this.stream = stream;
    this.tty = stream.isTTY === true;
    this.t0 = Date.now();
    this.section = null;
    this.shown = false;
  }

  /** Starts the next section (a workload, a trace, the C rows of one, the profile). */
  next(section) {
    this.done++;
    this.section = section;
    if (!this.tty) this.stream.write(`${this.head()}\n`);
    else this.step("starting");
  }

  head() {
    const s = Math.round((Date.now() - this.t0) / 1000);
    return `[${this.done}/${this.total}] ${s}s ${this.section}`;
  }

  /** What runs now, within the section (shown on a terminal only). */
  step(text) {
    if (!this.tty) return;
    const width = Math.min(100, (this.stream.columns ?? 100) - 1);
    const line = `${this.head()}: ${text}`;
    this.stream.write(`\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
    this.shown = true;
  }

  /** Clears the line (before printing results). */
  clear() {
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
  }
}
