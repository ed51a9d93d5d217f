/**
 * Retries with exponential backoff for transient provider errors (429, 5xx,
 * network, timeouts). The server's retry-after wins when it gives one; an
 * auth error or any other failure is not retried.
 */
import { sleep } from '../../../exec/process.js';
import { LlmCallError } from './provider.js';

export interface RetryOptions {
  /** Retries after the first try (default 4). */
  maxRetries?: number;
  /** First backoff in milliseconds, doubled each retry, jittered by up to 25% (default 1000). */
  baseMs?: number;
  /** Longest wait between tries (default 60 s). */
  maxMs?: number;
  /** Told before each wait (for the reasoning log). */
  onRetry?: (err: LlmCallError, attempt: number, waitMs: number) => void;
}

/** The result and how many tries it took. */
export async function withRetries<T>(call: () => Promise<T>, opts: RetryOptions = {}): Promise<{ value: T; tries: number }> {
  const maxRetries = opts.maxRetries ?? 4;
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await call(), tries: attempt };
    } catch (err) {
      if (!(err instanceof LlmCallError) || !err.transient || attempt > maxRetries) throw err;
      const backoff = Math.min(max, base * 2 ** (attempt - 1) * (1 + Math.random() * 0.25));
      const wait = err.retryAfterMs !== undefined ? Math.min(max, err.retryAfterMs) : backoff;
      opts.onRetry?.(err, attempt, wait);
      await sleep(wait);
    }
  }
}
