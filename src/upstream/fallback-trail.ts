/**
 * The attempts of one request along its routes, and the error it gets when none answered
 * (docs/contract.md §5.3).
 */
import { allRoutesFailed, noRouteAvailable, type GatewayError, type RouteRefusal } from '../errors.js';
import type { UpstreamRoute } from './routing.js';

export interface Attempt {
  provider: string;
  status?: number;
  cause?: string;
  /** The upstream's error message, redacted of provider keys and bounded. */
  message?: string;
  ms: number;
}

/** One failed attempt: the error it alone would give the client, its line in a combined message, its log fields. */
export interface Failure {
  error: GatewayError;
  summary: string;
  attempt: Omit<Attempt, 'ms'>;
}

/**
 * The attempts of one request along its routes, and the error it gets when none answered: the one
 * failure, or a message naming each; when no route was tried, the refusal that ends soonest.
 */
export class FallbackTrail {
  readonly attempts: Attempt[] = [];
  private readonly failures: Failure[] = [];
  private readonly refusals: RouteRefusal[] = [];

  refused(refusal: RouteRefusal): void {
    this.refusals.push(refusal);
  }

  failed(failure: Failure, ms: number): Attempt {
    const attempt = { ...failure.attempt, ms };
    this.attempts.push(attempt);
    this.failures.push(failure);
    return attempt;
  }

  /** The route answered: its answer, or the client's own error it gave, goes to the client. */
  answered(route: UpstreamRoute, status: number, ms: number): Attempt[] {
    this.attempts.push({ provider: route.providerName, status, ms });
    return this.attempts;
  }

  error(): GatewayError {
    const last = this.failures.at(-1);
    if (!last) {
      // No route was tried: every one was refused before its attempt (or there were none).
      const soonest = this.refusals.reduce<RouteRefusal | undefined>(
        (best, r) => (best && best.retryAfterMs <= r.retryAfterMs ? best : r),
        undefined,
      );
      return soonest?.error ?? noRouteAvailable();
    }
    if (this.failures.length === 1) return last.error;
    return allRoutesFailed(last.error, this.failures.map((failure) => failure.summary));
  }
}
