/**
 * Polls `condition` (which may ask something asynchronously) every 25 ms, running `step`
 * (if given) before each look; rejects naming `what` after `timeoutMs`.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
  step?: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (step) await step();
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${typeof what === "string" ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
