// Time as the delivery engine sees it: pacing, leases, retries and expiry all read this
// clock, so their tests run in simulated time instead of real sleeps.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` (at once for 0 or less), or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};
