// Reconnect delays: exponential with "full jitter", so a restarted API is not hit by every open
// tab at the same instant, and capped so a long outage still retries every few seconds.

export interface BackoffOptions {
  baseMs: number
  maxMs: number
  random: () => number // injected so tests are deterministic
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15_000, random: Math.random }

/** Delay before reconnect attempt `attempt` (0 = first retry), in [ceiling/2, ceiling]. */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt))
  // Half fixed, half random: never retries instantly, still spreads clients out.
  return Math.round(ceiling / 2 + (opts.random() * ceiling) / 2)
}
