// Drains the outbox: one worker per target sends its queued rows in order, paced by the
// target's Bottleneck (WeCom's hard limit) and the receiver's throttle, with p-queue
// bounding HTTP sends in flight over all targets. Rows change state only after WeCom
// answered, so a crash at any point leaves them queued (at-least-once).
import Bottleneck from "bottleneck";
import PQueue from "p-queue";
import type { Channel } from "../channels/channel.js";
import type { RateLimit } from "../config/schema.js";
import { logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { OutboxStore, StoredDelivery } from "../outbox/store.js";
import type { MessageType, SendResult } from "../types.js";
import { packDigests, shouldCoalesce, type DigestRenderer, type SendUnit } from "./coalesce.js";
import { decideRetry, type RetryPolicy } from "./retry.js";

export interface TargetRuntime {
  channel: Channel;
  rateLimit: RateLimit;
  /**
   * Targets with the same key share one pace: two targets on one robot webhook must not
   * each send 20 a minute. Opaque (a hash), never logged.
   */
  paceKey: string;
  /** Content byte limit for digests sent to this target. */
  byteLimit(msgtype: MessageType): number;
}

export interface DispatcherOptions {
  concurrency: number;
  retry: RetryPolicy;
  /** Coalesce when the backlog would take longer than this to drain. */
  coalesceAfterMs: number;
  renderDigest: DigestRenderer;
  /** How many queued rows one digest round may take. */
  maxDigestRows?: number;
}

const RATE_ERRCODE = 45009;
/** A wait longer than scheduling noise counts as throttled. */
const THROTTLED_AFTER_MS = 5;
const PURGE_EVERY_MS = 3_600_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;

/** Spacing between sends that keeps any window of `per` at or under `max`, with 5% slack for network jitter. */
export function paceInterval(rate: RateLimit): number {
  return Math.ceil((rate.per / rate.max) * 1.05);
}

function limiterFor(rate: RateLimit): Bottleneck {
  return new Bottleneck({ maxConcurrent: 1, minTime: paceInterval(rate) });
}

type LimiterPool = Map<string, { rate: RateLimit; limiter: Bottleneck }>;

function sameRate(a: RateLimit, b: RateLimit | undefined): boolean {
  return b !== undefined && a.max === b.max && a.per === b.per;
}

/** Stops (dropping waiting jobs) and forgets every limiter whose rate is gone or changed. */
function retireLimiters(pool: LimiterPool, currentRate: (name: string) => RateLimit | undefined): void {
  for (const [name, entry] of pool) {
    if (sameRate(entry.rate, currentRate(name))) continue;
    pool.delete(name);
    void entry.limiter.stop({ dropWaitingJobs: true });
  }
}

type RowsById = ReadonlyMap<string, StoredDelivery>;

interface Worker {
  running: Promise<void>;
  wake: () => void;
}

export class Dispatcher {
  private targets = new Map<string, TargetRuntime>();
  private readonly targetLimiters: LimiterPool = new Map();
  private receiverThrottles = new Map<string, RateLimit>();
  private readonly receiverLimiters: LimiterPool = new Map();
  private readonly workers = new Map<string, Worker>();
  private readonly workerFailures = new Map<string, number>();
  /** When each pace key last sent, so a new limiter (restart, reload) cannot burst. */
  private readonly lastSendAt = new Map<string, number>();
  /** After a 45009, the robot (every target on it) waits out WeCom's window. */
  private readonly pausedUntil = new Map<string, number>();
  private seeded = false;
  private readonly sends: PQueue;
  private stopping = false;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: OutboxStore,
    private readonly metrics: Metrics,
    private options: DispatcherOptions,
  ) {
    this.sends = new PQueue({ concurrency: options.concurrency });
  }

  /**
   * Installs a (re)loaded config's targets and receiver throttles. Pacing state of a
   * target whose limit did not change is kept, so a reload cannot cause a burst.
   */
  configure(targets: Map<string, TargetRuntime>, receiverThrottles: Map<string, RateLimit>, options: DispatcherOptions): void {
    this.targets = targets;
    this.receiverThrottles = receiverThrottles;
    if (!this.seeded) {
      // The previous process's last sends still count in WeCom's window.
      this.seeded = true;
      const lastSent = this.store.lastSentByTarget();
      for (const [name, runtime] of targets) {
        const at = lastSent.get(name);
        if (at !== undefined && at > (this.lastSendAt.get(runtime.paceKey) ?? 0)) this.lastSendAt.set(runtime.paceKey, at);
      }
    }
    // A worker waiting in a limiter whose limit changed (or whose target left) must not
    // wait out the old pace: dropping the wait sends it back to re-read its rows.
    const paces = new Map([...targets.values()].map((runtime) => [runtime.paceKey, runtime.rateLimit]));
    retireLimiters(this.targetLimiters, (paceKey) => paces.get(paceKey));
    retireLimiters(this.receiverLimiters, (name) => receiverThrottles.get(name));
    this.options = options;
    this.sends.concurrency = options.concurrency;
    const queued = this.store.queuedTargets();
    for (const target of queued) {
      if (!targets.has(target)) {
        logger.warn("queued messages wait for a target that is not in the config", { target });
      }
    }
    this.start(queued);
  }

  /** Starts a worker for every target with queued rows. */
  start(queued: readonly string[] = this.store.queuedTargets()): void {
    if (this.stopping) return;
    for (const target of queued) this.notify(target);
    this.purgeTimer ??= setInterval(() => this.store.purge(Date.now() - KEEP_FINISHED_MS), PURGE_EVERY_MS).unref();
  }

  /** Tells the target's worker that rows arrived. */
  notify(target: string): void {
    if (this.stopping || !this.targets.has(target)) return;
    const worker = this.workers.get(target);
    if (worker) worker.wake();
    else this.startWorker(target);
  }

  /** Stops taking rows, lets sends in flight finish; everything else stays queued. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.purgeTimer);
    // Sends waiting for their pace give up now (their rows stay queued); sends already
    // executing finish.
    retireLimiters(this.targetLimiters, () => undefined);
    retireLimiters(this.receiverLimiters, () => undefined);
    for (const worker of this.workers.values()) worker.wake();
    await Promise.all([...this.workers.values()].map((worker) => worker.running));
    await this.sends.onIdle();
  }

  private startWorker(target: string): void {
    let wake: () => void = () => {};
    const worker: Worker = { running: Promise.resolve(), wake: () => wake() };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, ms));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    this.workers.set(target, worker);
    worker.running = this.runWorker(target, worker, sleep)
      .then(() => {
        this.workerFailures.delete(target);
      })
      .catch((err: unknown) => {
        // A bug or a storage error: the rows stay queued; try again after a backoff so a
        // target with only retries pending is not stranded until new traffic arrives.
        const failures = (this.workerFailures.get(target) ?? 0) + 1;
        this.workerFailures.set(target, failures);
        const delay = Math.min(60_000, 1000 * 2 ** (failures - 1));
        logger.error("delivery worker failed; restarting", { target, error: err, restartInMs: delay });
        setTimeout(() => this.notify(target), delay).unref();
      })
      .finally(() => this.forget(target, worker));
  }

  /** Removes the worker from the map unless a newer one already took its place. */
  private forget(target: string, worker: Worker): void {
    if (this.workers.get(target) === worker) this.workers.delete(target);
  }

  private async runWorker(target: string, worker: Worker, sleep: (ms: number) => Promise<void>): Promise<void> {
    while (!this.stopping) {
      const runtime = this.targets.get(target);
      if (!runtime) return this.forget(target, worker); // target left the config: its rows stay queued
      const now = Date.now();
      const resumeAt = Math.max(
        this.pausedUntil.get(runtime.paceKey) ?? 0,
        (this.lastSendAt.get(runtime.paceKey) ?? 0) + paceInterval(runtime.rateLimit),
      );
      if (resumeAt > now) {
        await sleep(resumeAt - now);
        continue;
      }
      const { units, rows } = this.nextUnits(target, runtime, now);
      if (units.length === 0) {
        const nextDue = this.store.nextDueAt(target);
        // Idle: leave the map now, in this same turn, so a notify() that follows starts a
        // new worker instead of waking this finished one.
        if (nextDue === undefined) return this.forget(target, worker);
        await sleep(nextDue - now);
        continue;
      }
      for (const unit of units) {
        // A reload may have removed or changed the target: re-plan with the new config.
        if (this.stopping || this.targets.get(target) !== runtime) break;
        await this.deliver(target, runtime, unit, rows);
        if ((this.pausedUntil.get(runtime.paceKey) ?? 0) > Date.now()) break;
      }
    }
  }

  /**
   * The next thing(s) to send: the oldest row, or digests of the whole backlog; with the
   * rows they carry, so delivering them needs no second read.
   */
  private nextUnits(target: string, runtime: TargetRuntime, now: number): { units: SendUnit[]; rows: RowsById } {
    const interval = paceInterval(runtime.rateLimit);
    // Enough to tell whether the backlog passed the coalescing threshold.
    const queued = this.store.dueCount(target, now, Math.ceil(this.options.coalesceAfterMs / interval) + 1);
    const coalesce = shouldCoalesce(queued, interval, this.options.coalesceAfterMs);
    const rows = queued === 0 ? [] : this.store.due(target, now, coalesce ? (this.options.maxDigestRows ?? 5000) : 1);
    const byId: RowsById = new Map(rows.map((row) => [row.id, row]));
    if (!coalesce) return { units: rows.map((row) => ({ message: row.message, rowIds: [row.id], coalesced: false })), rows: byId };
    const units = packDigests(rows, target, runtime.byteLimit, this.options.renderDigest);
    const merged = units.filter((unit) => unit.coalesced).reduce((sum, unit) => sum + unit.rowIds.length, 0);
    if (merged > 0) {
      this.metrics.coalesced.inc({ target }, merged);
      logger.info("backlog coalesced into digests", { target, rows: rows.length, messages: units.length });
    }
    return { units, rows: byId };
  }

  private async deliver(target: string, runtime: TargetRuntime, unit: SendUnit, rows: RowsById): Promise<void> {
    const result = await this.paced(target, runtime, unit.message.receiver, () =>
      // A send still waiting for a free slot when shutdown begins is not started.
      this.sends.add(async () => (this.stopping ? undefined : this.safeSend(runtime.channel, unit))),
    );
    if (result === undefined) return; // stopping or paused: the rows stay queued
    const now = Date.now();
    this.metrics.messagesSent.inc({ target, result: result.kind === "refreshToken" ? "retry" : result.kind });
    if (result.kind !== "ok" && result.errcode !== undefined) {
      this.metrics.wecomErrors.inc({ errcode: String(result.errcode) });
    }
    if (result.kind === "ok") {
      this.store.markSent(unit.rowIds, now);
      logger.debug("delivered", { target, rows: unit.rowIds.length, coalesced: unit.coalesced, events: unit.message.eventIds });
      for (const id of unit.rowIds) {
        const row = rows.get(id);
        if (row) this.metrics.deliveryLatency.observe({ target }, (now - row.createdAt) / 1000);
      }
      return;
    }
    if (result.kind === "retry" && result.errcode === RATE_ERRCODE) {
      // WeCom counted more than we sent (another sender shares the robot): wait out its window.
      this.pausedUntil.set(runtime.paceKey, now + runtime.rateLimit.per);
      logger.warn("WeCom rate limit hit; pausing the target for its window", { target, pauseMs: runtime.rateLimit.per });
    }
    this.failed(target, unit, rows, result, now, runtime.rateLimit.per);
  }

  private failed(
    target: string,
    unit: SendUnit,
    rows: RowsById,
    result: Exclude<SendResult, { kind: "ok" }>,
    now: number,
    windowMs: number,
  ) {
    const effective =
      result.kind === "retry" && result.errcode === RATE_ERRCODE ? { ...result, afterMs: windowMs } : result;
    let retrying = 0;
    for (const id of unit.rowIds) {
      const row = rows.get(id);
      if (!row) continue;
      const decision = decideRetry(effective, row, now, this.options.retry);
      if (decision.action === "retry") {
        this.store.markRetry(id, decision.at, result.error);
        this.metrics.retries.inc({ target });
        retrying += 1;
      } else {
        this.store.markDead([id], decision.error);
        this.metrics.deadLetters.inc({ target, reason: decision.reason });
        logger.error("delivery dead-lettered", { target, delivery: id, reason: decision.reason, error: decision.error });
      }
    }
    if (retrying > 0) {
      logger.warn("send failed; will retry", { target, rows: retrying, error: result.error, errcode: result.errcode });
    }
  }

  /** Runs `send` once both the receiver's throttle and the target's pace allow. */
  private async paced<T>(target: string, runtime: TargetRuntime, receiver: string, send: () => Promise<T>): Promise<T | undefined> {
    const targetLimiter = this.limiter(this.targetLimiters, runtime.paceKey, runtime.rateLimit);
    const throttle = this.receiverThrottles.get(receiver);
    const receiverLimiter = throttle && this.limiter(this.receiverLimiters, receiver, throttle);
    const queuedAt = Date.now();
    const run = () => {
      const targetQueuedAt = Date.now();
      if (receiverLimiter && targetQueuedAt - queuedAt > THROTTLED_AFTER_MS) this.metrics.throttled.inc({ limiter: receiver });
      return targetLimiter.schedule(() => {
        // Shutdown, or a 45009 on this robot while the send waited its turn: not now.
        if (this.stopping || (this.pausedUntil.get(runtime.paceKey) ?? 0) > Date.now()) return Promise.resolve(undefined);
        if (Date.now() - targetQueuedAt > THROTTLED_AFTER_MS) this.metrics.throttled.inc({ limiter: target });
        this.lastSendAt.set(runtime.paceKey, Date.now());
        return send();
      });
    };
    try {
      return await (receiverLimiter ? receiverLimiter.schedule(run) : run());
    } catch (err) {
      if (err instanceof Bottleneck.BottleneckError) return undefined; // limiter retired by a reload
      throw err;
    }
  }

  private limiter(pool: LimiterPool, name: string, rate: RateLimit): Bottleneck {
    const existing = pool.get(name);
    if (existing && sameRate(existing.rate, rate)) return existing.limiter;
    const limiter = limiterFor(rate);
    pool.set(name, { rate, limiter });
    return limiter;
  }

  private async safeSend(channel: Channel, unit: SendUnit): Promise<SendResult> {
    try {
      return await channel.send(unit.message);
    } catch (err) {
      // Channels return errors as values; a throw is a bug, but the row must not be lost.
      return { kind: "retry", error: `internal error: ${(err as Error).message}` };
    }
  }
}
