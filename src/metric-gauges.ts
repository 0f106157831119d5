// The gauges read when Prometheus scrapes: each target's queue (depth, waiting for a
// retry, the oldest message's age), a pause WeCom imposed (45009), each app's token, and
// the outbox's size. Read first, then set, so a store that fails mid-way leaves the last
// values standing instead of a half-reset exposition.
import type { TargetRuntime } from "./delivery/target-worker.js";
import { logger } from "./log.js";
import type { Metrics } from "./metrics.js";
import type { Store } from "./outbox/contract.js";

const seconds = (epochMs: number) => epochMs / 1000;

export async function refreshGauges(metrics: Metrics, store: Store, targets: ReadonlyMap<string, TargetRuntime>, now: number): Promise<void> {
  await Promise.all([queueGauges(metrics, store, targets, now), pauseGauges(metrics, store, targets), sizeGauge(metrics, store)]);
  tokenGauges(metrics, targets);
}

async function queueGauges(metrics: Metrics, store: Store, targets: ReadonlyMap<string, TargetRuntime>, now: number): Promise<void> {
  let stats;
  try {
    stats = await store.queueStats(now);
  } catch (err) {
    logger.warn("could not read the outbox queues for /metrics", { error: err });
    return;
  }
  for (const gauge of [metrics.outboxDepth, metrics.outboxWaitingRetry, metrics.outboxOldestAge]) gauge.reset();
  // Every configured target, queued or not; and a queue whose target left the config still shows.
  for (const target of new Set([...targets.keys(), ...stats.keys()])) {
    const queue = stats.get(target);
    metrics.outboxDepth.set({ target }, queue?.queued ?? 0);
    metrics.outboxWaitingRetry.set({ target }, queue?.waitingRetry ?? 0);
    metrics.outboxOldestAge.set({ target }, queue ? Math.max(0, seconds(now - queue.oldestCreatedAt)) : 0);
  }
}

async function pauseGauges(metrics: Metrics, store: Store, targets: ReadonlyMap<string, TargetRuntime>): Promise<void> {
  let paused: [string, number][];
  try {
    paused = await Promise.all([...targets].map(async ([target, runtime]) => [target, (await store.pausedUntil(runtime.paceKey)) ?? 0] as [string, number]));
  } catch (err) {
    logger.warn("could not read the robot pauses for /metrics", { error: err });
    return;
  }
  metrics.pausedUntil.reset();
  for (const [target, until] of paused) metrics.pausedUntil.set({ target }, seconds(until));
}

async function sizeGauge(metrics: Metrics, store: Store): Promise<void> {
  try {
    metrics.outboxSize.set(await store.sizeBytes());
  } catch (err) {
    logger.warn("could not read the outbox size for /metrics", { error: err });
  }
}

function tokenGauges(metrics: Metrics, targets: ReadonlyMap<string, TargetRuntime>): void {
  metrics.tokenExpiry.reset();
  metrics.tokenBackoffUntil.reset();
  for (const [target, runtime] of targets) {
    const state = runtime.channel.tokenState?.();
    if (!state) continue;
    metrics.tokenExpiry.set({ target }, seconds(state.expiresAt));
    metrics.tokenBackoffUntil.set({ target }, seconds(state.backoffUntil));
  }
}
