/**
 * Settlements (refunds and extra charges once the real usage is known) are off the request path, so
 * they need not cost a round trip each. They are summed per subject and dimension and ride along with
 * that subject's next admission (`LimitRule.carry`), which also guarantees the admission sees them.
 * Subjects with no next admission soon are sent on their own after SETTLE_DELAY_MS, so other instances
 * see the refund within that time: all of them in the same turn, which RedisLimiter sends as one script
 * call, so a thousand keys settling cost one call, not a thousand.
 */
import type { Dimension, Limiter } from './limiter.js';

const SETTLE_DELAY_MS = 100;

export type PendingSettlement = Map<Dimension, { limit: number; delta: number }>;

export class SettlementQueue {
  private pending = new Map<string, PendingSettlement>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limiter: Limiter,
    private readonly onError: (err: unknown) => void,
  ) {}

  add(subject: string, adjustments: { dimension: Dimension; limit: number; delta: number }[]): void {
    let bySubject = this.pending.get(subject);
    if (!bySubject) this.pending.set(subject, (bySubject = new Map()));
    for (const { dimension, limit, delta } of adjustments) {
      const entry = bySubject.get(dimension);
      // A tier change between two requests changes the limit; the newest one is the one in force.
      bySubject.set(dimension, { limit, delta: (entry?.delta ?? 0) + delta });
    }
    // unref: a pending settlement must not keep the process alive; close() flushes explicitly.
    this.timer ??= setTimeout(() => void this.flush(), SETTLE_DELAY_MS).unref();
  }

  /** Removes and returns what is queued for one subject, for its admission to carry. */
  take(subject: string): PendingSettlement | undefined {
    const bySubject = this.pending.get(subject);
    this.pending.delete(subject);
    return bySubject;
  }

  /** Sends everything queued on its own; resolves when the limiter has applied it (timer, shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    await Promise.all([...batch].map(([subject, bySubject]) => this.send(subject, bySubject)));
  }

  /** Sends settlements of one subject as a plain adjust (those an admission could not carry). */
  async send(subject: string, bySubject: PendingSettlement): Promise<void> {
    const adjustments = [...bySubject].filter(([, a]) => a.delta !== 0).map(([dimension, a]) => ({ dimension, ...a }));
    if (adjustments.length > 0) await this.limiter.adjust(subject, adjustments).catch(this.onError);
  }
}
