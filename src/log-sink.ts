/**
 * Where the server's log lines go: a file descriptor (stdout), written asynchronously and in order.
 *
 * Why not pino's default destination: when the process reading a stdout pipe exits, every write fails
 * with EPIPE, and at exit pino flushes what is still queued in a loop that retries that error forever;
 * gateways were found hours after SIGTERM, listener closed, rewriting the same line. Here the first
 * write error stops the sink for good: later lines are dropped (counted), nothing is retried, and there
 * is no exit hook, so a log reader that goes away can neither crash the gateway nor keep it alive.
 * A reader that stalls costs at most MAX_QUEUED_CHARS of memory; lines beyond that are dropped too.
 */
import { write, writeSync } from 'node:fs';

const MAX_QUEUED_CHARS = 16 * 1024 * 1024;
/** A non-blocking descriptor that is full answers EAGAIN: try again shortly. */
const EAGAIN_RETRY_MS = 20;

export class LogSink {
  /** Lines dropped since the sink failed, or while its reader was too far behind. */
  dropped = 0;
  private queue: string[] = [];
  private queuedChars = 0;
  /** Lines in the chunk being written. */
  private writingLines = 0;
  private writing = false;
  private failed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly fd = 1,
    /** Told once, when the sink stops; by default a line on stderr (which may be gone as well). */
    private readonly onFailure: (err: NodeJS.ErrnoException) => void = reportOnStderr,
  ) {}

  /** pino's destination interface. */
  write(line: string): boolean {
    if (this.failed || this.queuedChars + line.length > MAX_QUEUED_CHARS) {
      this.dropped++;
      return true;
    }
    this.queue.push(line);
    this.queuedChars += line.length;
    if (!this.writing) this.writeQueued();
    return true;
  }

  /**
   * Resolves once every queued line is written or the sink has failed, or after timeoutMs, whichever
   * comes first: call it before process.exit so the last lines are not lost, without ever waiting long.
   */
  settled(timeoutMs: number): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private writeQueued(): void {
    const chunk = Buffer.from(this.queue.join(''));
    this.writingLines = this.queue.length;
    this.queue = [];
    this.queuedChars = 0;
    this.writing = true;
    this.writeChunk(chunk);
  }

  private writeChunk(chunk: Buffer): void {
    write(this.fd, chunk, (err, written) => {
      if (err?.code === 'EAGAIN') {
        setTimeout(() => this.writeChunk(chunk), EAGAIN_RETRY_MS).unref();
      } else if (err) {
        this.fail(err);
      } else if (written < chunk.length) {
        this.writeChunk(chunk.subarray(written));
      } else if (this.queue.length > 0) {
        this.writeQueued();
      } else {
        this.becomeIdle();
      }
    });
  }

  private fail(err: NodeJS.ErrnoException): void {
    this.failed = true;
    this.dropped += this.writingLines + this.queue.length;
    this.queue = [];
    this.queuedChars = 0;
    this.becomeIdle();
    this.onFailure(err);
  }

  private becomeIdle(): void {
    this.writing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function reportOnStderr(err: NodeJS.ErrnoException): void {
  try {
    writeSync(2, `tollgate: writing logs failed (${err.code ?? err.message}); further log lines are dropped\n`);
  } catch {
    // stderr is gone too: nowhere left to say it.
  }
}
