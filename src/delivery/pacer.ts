// The one pacing mechanism: before each send, a slot is taken from the Store on every
// key the send counts against (the robot's webhook, the receiver's throttle), and the
// send waits for the latest. The slots live in the Store, so replicas share one pace per
// robot, restarts keep it, and sends made before a reload still count after it.
import type { RateLimit } from "../config/schema.js";
import type { Store } from "../outbox/contract.js";
import type { Clock } from "./clock.js";

/** A wait longer than scheduling noise counts as throttled. */
const THROTTLED_AFTER_MS = 5;

/** Spacing between sends that keeps any window of `per` at or under `max`, with 5% slack for network jitter. */
export function paceInterval(rate: RateLimit): number {
  return Math.ceil((rate.per / rate.max) * 1.05);
}

/** Sends reach WeCom later than their slot by a varying delay: the window keeps this much slack at least. */
const MIN_WINDOW_SLACK_MS = 100;

/**
 * The slot rule for a rate: smooth spacing with 5% slack, and the window itself with 5%
 * (at least 100 ms) slack for the jitter between a slot and its arrival at WeCom.
 */
export function paceRate(rate: RateLimit): { spacingMs: number; max: number; perMs: number } {
  return { spacingMs: paceInterval(rate), max: rate.max, perMs: rate.per + Math.max(Math.ceil(rate.per * 0.05), MIN_WINDOW_SLACK_MS) };
}

export interface PaceKey {
  key: string;
  rate: RateLimit;
  /** Name for the throttled metric (target or receiver): never the key, which may derive from a secret. */
  name: string;
}

export class Pacer {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onThrottled: (name: string) => void = () => {},
  ) {}

  /**
   * Waits until a send may go on every key, in order (the receiver's throttle first, so a
   * robot slot is not held while the throttle waits). False when `signal` aborted the wait:
   * or the key was paused meanwhile: the send must not happen then.
   */
  async acquire(keys: readonly PaceKey[], signal?: AbortSignal): Promise<boolean> {
    const taken: { key: string; slot: number }[] = [];
    const callOff = async () => {
      // Slots not used go back, so they do not delay the next send (a reload, a pause).
      for (const { key, slot } of taken) await this.store.cancelSlot(key, slot);
      return false;
    };
    for (const { key, rate, name } of keys) {
      if (signal?.aborted) return callOff();
      const now = this.clock.now();
      const slot = await this.store.takeSlot(key, now, paceRate(rate));
      taken.push({ key, slot });
      const wait = slot - this.clock.now();
      if (wait > THROTTLED_AFTER_MS) this.onThrottled(name);
      await this.clock.sleep(wait, signal);
      if (signal?.aborted) return callOff();
      // A 45009 on this robot while the slot was waited for: not now (the rows stay queued).
      if (((await this.store.pausedUntil(key)) ?? 0) > this.clock.now()) return callOff();
    }
    return true;
  }

  /** WeCom said its window for this robot is full: no slot on `key` before `until`. */
  pause(key: string, until: number): Promise<void> {
    return this.store.pauseKey(key, until);
  }
}
