/**
 * Polls `condition` every 25 ms, running `step` (if given) before each look; rejects with
 * `what()` after `timeoutMs`.
 */
export async function until(condition: () => boolean, what: () => string, timeoutMs = 10_000, step?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (step) await step();
    if (condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
