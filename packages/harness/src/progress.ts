/**
 * The progress of a stress campaign on stderr: a cli-progress bar on a terminal (runs done, or time
 * used with --time; violations, runs per second, time left), a plain line every two seconds otherwise.
 */
import cliProgress from 'cli-progress';

export class CampaignProgress {
  private bars: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private timer: NodeJS.Timeout | null = null;
  private total: number | null = null;
  private done = 0;
  private executed = 0;
  private failed = 0;
  private readonly t0 = Date.now();
  private lastLine = Date.now();

  constructor(private readonly timeMs: number | undefined) {}

  start(total: number | null, resumed: number, jobs: number): void {
    this.total = total;
    this.done = resumed;
    if (process.stderr.isTTY) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: `stress {bar} ${this.timeMs !== undefined ? '{runs}' : '{value}/{total}'} runs | {violations} violation(s) | {rate} runs/s | {left} left | ${jobs} at a time`,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          fps: 5,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      // With --time the bar shows the time used; otherwise the runs done.
      this.bar = this.timeMs !== undefined ? this.bars.create(Math.ceil(this.timeMs / 100), 0, this.payload()) : this.bars.create(total ?? 0, this.done, this.payload());
    }
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  private payload() {
    const secs = (Date.now() - this.t0) / 1000;
    const rate = secs > 0 ? this.executed / secs : 0;
    let left = '?';
    if (this.timeMs !== undefined) left = fmtSecs(Math.max(0, this.timeMs / 1000 - secs));
    else if (this.total !== null && rate > 0) left = fmtSecs((this.total - this.done) / rate);
    return { runs: this.done, violations: this.failed, rate: rate.toFixed(1), left };
  }

  private tick(): void {
    if (this.bar) {
      const value = this.timeMs !== undefined ? Math.min(this.timeMs, Date.now() - this.t0) / 100 : this.done;
      this.bar.update(Math.floor(value), this.payload());
    } else if (Date.now() - this.lastLine >= 2000) {
      this.lastLine = Date.now();
      const p = this.payload();
      process.stderr.write(`stress: ${this.done}${this.total !== null ? `/${this.total}` : ''} runs, ${p.violations} violation(s), ${p.rate} runs/s, ${p.left} left\n`);
    }
  }

  run(ok: boolean): void {
    this.done++;
    this.executed++;
    if (!ok) this.failed++;
    this.tick();
  }

  /** Prints text (a violation report) without breaking the bar. */
  print(text: string, toStdout: boolean): void {
    if (this.bars && (!toStdout || process.stdout.isTTY)) this.bars.log(text + '\n');
    else (toStdout ? process.stdout : process.stderr).write(text + '\n');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.bar) this.tick();
    this.bars?.stop();
  }
}

/** Time left, rounded up to whole seconds first (359.6 s is 6m00s, not 5m60s). */
export function fmtSecs(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.ceil(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}
