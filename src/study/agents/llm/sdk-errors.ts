/**
 * The Anthropic and OpenAI SDKs throw errors of the same shapes (an APIError
 * with the HTTP status, the response headers and the parsed body; connection
 * and timeout errors without a status), so one function turns either into
 * the provider-neutral errors of provider.ts. Each SDK passes its own error
 * classes in, which keeps this file free of both SDKs.
 */
import { LlmAuthError, LlmCallError, LlmStopError, clip, type ProviderName } from './provider.js';

/** What both SDKs' APIError carries. */
interface StatusError extends Error {
  readonly status?: number;
  readonly headers?: Headers;
  readonly error?: unknown;
}

type ErrorClass<T extends Error = Error> = abstract new (...args: never[]) => T;

/** One SDK's error classes (the timeout class must come before the connection class it extends). */
export interface SdkErrorClasses {
  /** The base of every error the SDK throws on purpose. */
  base: ErrorClass;
  api: ErrorClass<StatusError>;
  userAbort: ErrorClass;
  timeout: ErrorClass;
  connection: ErrorClass;
}

export interface ErrorContext {
  provider: ProviderName;
  /** The environment variable the key comes from, named in an auth error. */
  keyVar: string;
  /** Removed from every message: a server may echo the key it refused. */
  key?: string;
  baseURL: string;
  timeout_s: number;
}

/** 408 and 409 (lock timeouts) are what the SDKs themselves retry, besides 429 and 5xx (529: overloaded). */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The server's wait before the next try: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms')?.trim();
  if (ms) {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const after = headers?.get('retry-after')?.trim();
  if (!after) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * The server's own words. The Anthropic SDK keeps the whole body
 * (`{type: 'error', error: {message}}`), the OpenAI SDK the inner object
 * (`{message}`); both prefix their `message` with the status.
 */
export function serverMessage(err: StatusError): string {
  const inner = field(err.error, 'message') ?? field(field(err.error, 'error'), 'message');
  if (typeof inner === 'string' && inner.trim() !== '') return inner.trim();
  const status = err.status;
  const own = status !== undefined && err.message.startsWith(`${status} `) ? err.message.slice(String(status).length + 1) : err.message;
  return own.trim() || 'no message';
}

function redact(text: string, key: string | undefined): string {
  return key && key.length >= 4 ? text.split(key).join('***') : text;
}

function causeOf(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? ((cause as { cause?: unknown }).cause ?? cause) : cause;
  return inner instanceof Error ? inner.message : err.message;
}

/**
 * The provider-neutral error for what the SDK threw: LlmAuthError,
 * LlmCallError (transient or not), or the error itself when it did not come
 * from the SDK (a bug here should not pass for a failed call).
 */
export function toLlmError(err: unknown, sdk: SdkErrorClasses, ctx: ErrorContext): unknown {
  // A call, not `instanceof` inline: each test would narrow `err` away for the next.
  const is = (cls: ErrorClass): boolean => err instanceof cls;
  if (!(err instanceof sdk.base)) return err;
  const say = (text: string): string => redact(`${ctx.provider}: ${text}`, ctx.key);
  if (is(sdk.userAbort)) return new LlmCallError(say('request cancelled'), false);
  if (is(sdk.timeout)) return new LlmCallError(say(`no answer within ${ctx.timeout_s} s (timeout_s)`), true);
  if (is(sdk.connection)) return new LlmCallError(say(`cannot reach ${ctx.baseURL}: ${clip(causeOf(err))}`), true);
  if (!(err instanceof sdk.api) || err.status === undefined) return new LlmCallError(say(clip(err.message)), false);
  const status = err.status;
  const message = clip(serverMessage(err));
  if (status === 401 || status === 403) {
    const what = status === 401 ? 'authentication failed' : 'permission denied';
    return new LlmAuthError(
      say(`${what} (${status}: ${message}): set ${ctx.keyVar} to a valid key`),
    );
  }
  // Asking again cannot help, and falling back on every decision would quietly make the whole study a rules study.
  if (status === 404) return new LlmStopError(say(`not found (404: ${message}): check the model name and the base URL ('study resume <dir> --model NAME --base-url URL' changes them)`));
  const hint = err.headers?.get('x-should-retry');
  // Only the words providers use for an empty account: a per-minute rate limit ("resource exhausted") must stay transient.
  const code = field(err.error, 'code') ?? field(field(err.error, 'error'), 'code');
  if (status === 402 || ((status === 400 || status === 429) && hint !== 'true' && (code === 'insufficient_quota' || /insufficient_quota|exceeded your current quota|credit balance is too low/i.test(message)))) {
    return new LlmStopError(say(`the account cannot pay for requests (${status}: ${message})`));
  }
  // The server's explicit word wins over the status (OpenAI says false for an exhausted quota's 429).
  const transient = hint === 'true' ? true : hint === 'false' ? false : isTransientStatus(status);
  return new LlmCallError(say(`request failed (${status}: ${message})`), transient, status, transient ? retryAfterMs(err.headers) : undefined);
}

/** Seconds to the SDKs' milliseconds: a whole number, as the SDKs check per-request timeouts to be. */
export function timeoutMs(timeout_s: number): number {
  return Math.max(1, Math.round(timeout_s * 1000));
}
