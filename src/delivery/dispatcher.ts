// Drains the outbox: which targets this process works, and a worker loop for each. A
// target is worked only while this process holds its lease in the Store (so with
// PostgreSQL one replica at a time works it, and a dead replica's targets are taken over
// when its leases run out); with SQLite the same code runs with one holder.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import PQueue from "p-queue";
import type { RateLimit } from "../config/schema.js";
import { exponentialDelay } from "../backoff.js";
import { logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Store } from "../outbox/contract.js";
import { idsOnlyTracer, type Tracer } from "../tracing/tracer.js";
import { systemClock, type Clock } from "./clock.js";
import { Pacer } from "./pacer.js";
import { planNext, sendPlanned, type SendPolicy, type TargetRuntime, type WorkerContext } from "./target-worker.js";

export type { TargetRuntime } from "./target-worker.js";

export interface DispatcherOptions extends SendPolicy {
  concurrency: number;
}

export interface DispatcherDeps {
  clock?: Clock;
  /** How long a lease lasts without renewal: a dead holder's targets are taken over within it. */
  leaseMs?: number;
  /** This process's name in the leases table. */
  holder?: string;
  /** Send spans; ids only by default. */
  tracer?: Tracer;
}

const PURGE_EVERY_MS = 3_600_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;
const PURGE_CHUNK = 1000;
/** After a storage error, a worker tries again within seconds, never minutes. */
const MAX_FAILURE_DELAY_MS = 5000;

interface Worker {
  /** Aborted on shutdown or when the lease is lost: pace waits end, sends are not started. */
  stop: AbortController;
  running: Promise<void>;
  wake(): void;
  /** Calls off the send waiting for its pace, so it is planned again (a reload changed the config). */
  replan(): void;
}

export class Dispatcher {
  private targets = new Map<string, TargetRuntime>();
  private receiverThrottles = new Map<string, RateLimit>();
  private readonly workers = new Map<string, Worker>();
  private readonly starting = new Set<string>();
  private readonly sends: PQueue;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly holder: string;
  private readonly context: WorkerContext;
  private readonly stopping = new AbortController();
  private scanning: Promise<void> | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private options: DispatcherOptions,
    deps: DispatcherDeps = {},
  ) {
    this.sends = new PQueue({ concurrency: options.concurrency });
    this.clock = deps.clock ?? systemClock;
    this.leaseMs = deps.leaseMs ?? 15_000;
    // Readable in the leases table: which replica (host and pid) works which target.
    this.holder = deps.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.context = {
      store,
      clock: this.clock,
      pacer: new Pacer(store, this.clock, (limiter) => metrics.throttled.inc({ limiter })),
      metrics,
      tracer: deps.tracer ?? idsOnlyTracer,
      sends: this.sends,
      policy: () => this.options,
      receiverThrottle: (receiver) => this.receiverThrottles.get(receiver),
      failing: new Set(),
    };
  }

  /** Installs a (re)loaded config. Pace lives in the Store, so a reload cannot cause a burst. */
  configure(targets: Map<string, TargetRuntime>, receiverThrottles: Map<string, RateLimit>, options: DispatcherOptions): void {
    this.targets = targets;
    this.receiverThrottles = receiverThrottles;
    this.options = options;
    this.sends.concurrency = options.concurrency;
    // A worker whose target left the config stops; the others plan their next send again
    // under the new config, so a send waiting out an old pace re-paces at once.
    for (const [target, worker] of this.workers) {
      if (targets.has(target)) worker.replan();
      else worker.stop.abort();
    }
    void this.warnAboutOrphans();
    this.startScanning();
  }

  /** Tells the target's worker that rows arrived (or starts one). */
  notify(target: string): void {
    if (this.stopping.signal.aborted || !this.targets.has(target)) return;
    const worker = this.workers.get(target);
    if (worker) worker.wake();
    else void this.tryStart(target);
  }

  /** Stops taking rows, lets sends in flight finish, gives up the leases; the rest stays queued. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.purgeTimer);
    for (const worker of this.workers.values()) worker.stop.abort();
    await Promise.all([...this.workers.values()].map((worker) => worker.running));
    await this.sends.onIdle();
    await this.scanning;
    // Another replica may take these targets at once instead of waiting out the leases.
    await this.store.release([...this.targets.keys()], this.holder).catch(() => undefined);
  }

  private async warnAboutOrphans(): Promise<void> {
    try {
      for (const target of await this.store.queuedTargets()) {
        if (!this.targets.has(target)) logger.warn("queued messages wait for a target that is not in the config", { target });
      }
    } catch (err) {
      logger.warn("could not list queued targets", { error: err });
    }
  }

  /**
   * Every lease/6: renew the leases held, and take every target with queued rows that
   * nobody holds (its holder died). Leases last 2/3 of `leaseMs`, so a dead holder's
   * targets are taken over within `leaseMs`.
   */
  private startScanning(): void {
    if (this.scanning !== undefined || this.stopping.signal.aborted) return;
    this.purgeTimer = setInterval(() => void this.purge(), PURGE_EVERY_MS).unref();
    this.scanning = (async () => {
      while (!this.stopping.signal.aborted) {
        await this.scan();
        await this.clock.sleep(this.leaseMs / 6, this.stopping.signal);
      }
    })();
  }

  private async scan(): Promise<void> {
    for (const target of this.targets.keys()) {
      if (this.stopping.signal.aborted) return;
      try {
        const worker = this.workers.get(target);
        if (worker) {
          if (!(await this.claim(target))) {
            logger.warn("lease lost; another replica works this target now", { target });
            worker.stop.abort();
          }
        } else if ((await this.store.nextDueAt(target)) !== undefined) {
          await this.tryStart(target);
        }
      } catch (err) {
        logger.warn("lease scan failed; trying again shortly", { target, error: err });
      }
    }
  }

  private claim(target: string): Promise<boolean> {
    return this.store.claim(target, this.holder, this.clock.now(), (this.leaseMs * 2) / 3);
  }

  private async tryStart(target: string): Promise<void> {
    if (this.workers.has(target) || this.starting.has(target)) return;
    this.starting.add(target);
    try {
      if (await this.claim(target)) this.startWorker(target);
    } catch (err) {
      logger.warn("could not take the target's lease; the next scan tries again", { target, error: err });
    } finally {
      this.starting.delete(target);
    }
  }

  private startWorker(target: string): void {
    if (this.stopping.signal.aborted || this.workers.has(target)) return;
    const stop = new AbortController();
    let nap = new AbortController();
    let send = new AbortController();
    const worker: Worker = {
      stop,
      running: Promise.resolve(),
      wake: () => nap.abort(),
      replan: () => send.abort(),
    };
    const sendSignal = () => {
      send = new AbortController();
      return AbortSignal.any([send.signal, stop.signal]);
    };
    const sleep = async (ms: number) => {
      nap = new AbortController();
      const both = AbortSignal.any([nap.signal, stop.signal]);
      await this.clock.sleep(ms, both);
    };
    this.workers.set(target, worker);
    worker.running = this.runWorker(target, stop.signal, sleep, sendSignal).finally(() => {
      if (this.workers.get(target) === worker) this.workers.delete(target);
    });
  }

  private async runWorker(
    target: string,
    stopped: AbortSignal,
    sleep: (ms: number) => Promise<void>,
    sendSignal: () => AbortSignal,
  ): Promise<void> {
    let failures = 0;
    while (!stopped.aborted) {
      const runtime = this.targets.get(target);
      if (!runtime) return; // left the config: its rows stay queued
      try {
        const now = this.clock.now();
        const planned = await planNext(this.context, target, runtime, now);
        if (planned === undefined) {
          const nextDue = await this.store.nextDueAt(target);
          if (nextDue === undefined) {
            // Idle: give the target back, so any replica can take it at once.
            await this.store.release([target], this.holder);
            this.workers.delete(target);
            // Rows that arrived meanwhile found this worker about to end: start another.
            if ((await this.store.nextDueAt(target)) !== undefined) void this.tryStart(target);
            return;
          }
          await sleep(Math.min(nextDue - now, this.leaseMs / 6));
          continue;
        }
        // A reload may have changed the target meanwhile: send with the runtime planned for.
        await sendPlanned(this.context, target, runtime, planned, sendSignal());
        failures = 0;
      } catch (err) {
        // A storage error or a bug: the rows stay queued; try again within seconds.
        failures += 1;
        const delay = exponentialDelay(failures, 250, MAX_FAILURE_DELAY_MS);
        logger.error("delivery worker failed; retrying", { target, error: err, retryInMs: delay });
        await sleep(delay);
      }
    }
  }

  /** Forgets finished rows older than 7 days, a chunk at a time so no write holds the outbox long. */
  private async purge(): Promise<void> {
    const before = this.clock.now() - KEEP_FINISHED_MS;
    try {
      while (!this.stopping.signal.aborted && (await this.store.purge(before, PURGE_CHUNK)) === PURGE_CHUNK) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      logger.warn("purge of finished rows failed; trying again next hour", { error: err });
    }
  }
}
