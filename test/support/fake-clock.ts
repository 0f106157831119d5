// Simulated time for the delivery engine: sleeps resolve only when the test advances the
// clock, in time order, with the engine's own async work run to rest between steps.
import type { Clock } from "../../src/delivery/clock.js";

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** Lets pending promise chains and I/O callbacks of in-process stores run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private sleepers: Sleeper[] = [];

  constructor(private current = 1_000_000) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper: Sleeper = { at: this.current + ms, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        "abort",
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking each sleeper at its own time and letting it run. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (;;) {
      const next = this.sleepers.filter((s) => s.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.current = Math.max(this.current, next.at);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
      await settle();
    }
    this.current = end;
    await settle();
  }

  /** Sleepers still waiting, for tests that check nothing is left behind. */
  get pending(): number {
    return this.sleepers.length;
  }
}
