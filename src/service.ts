// The running process: the outbox, the dispatcher and metrics live as long as the
// process; the Relay (one loaded config) is swapped atomically on reload.
import { loadConfigFile } from "./config/load.js";
import { formatConfigError, type ConfigError } from "./config/errors.js";
import { Dispatcher, type DispatcherOptions } from "./delivery/dispatcher.js";
import { logger, redactor } from "./log.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { OutboxStore } from "./outbox/store.js";
import { bestEffortErrors, Relay, type RelayDeps } from "./relay.js";
import { TokenCache } from "./channels/wecom/token.js";
import type { Event, Match, Message } from "./types.js";

export interface ServiceOptions {
  configFile: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
}

export interface Accepted {
  requestId: string;
  messages: number;
  duplicate: boolean;
}

/** Loads a config file and builds a Relay from it; every error carries file:line. */
export function loadRelay(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  deps: RelayDeps = { tokens: new TokenCache() },
): { relay: Relay } | { errors: ConfigError[] } {
  const result = loadConfigFile(file, env);
  if ("errors" in result) {
    const later = result.partial ? bestEffortErrors(result.partial, file, result.errors) : [];
    return { errors: [...result.errors, ...later] };
  }
  return Relay.build(result.loaded, deps);
}

function dispatcherOptions(relay: Relay): DispatcherOptions {
  const { delivery } = relay.config;
  return {
    concurrency: delivery.concurrency,
    retry: { initialMs: delivery.retry_initial, maxMs: delivery.retry_max, maxAgeMs: delivery.max_age },
    coalesceAfterMs: delivery.coalesce_after,
    renderDigest: relay.renderDigest,
  };
}

/** Thrown for work that arrives while the relay is stopping; answered 503. */
export class ShuttingDownError extends Error {
  readonly status = 503;
  constructor() {
    super("shutting down");
  }
}

interface PendingWrite {
  events: readonly Event[];
  messages: Message[];
  idempotencyKey: string | undefined;
  resolve: (accepted: Accepted) => void;
  reject: (err: unknown) => void;
}

export class Service {
  private stopped = false;
  private pendingWrites: PendingWrite[] = [];

  private constructor(
    private current: Relay,
    readonly store: OutboxStore,
    readonly dispatcher: Dispatcher,
    readonly metrics: Metrics,
    private readonly deps: RelayDeps,
    private readonly options: ServiceOptions,
  ) {}

  /** Loads the config, opens the outbox and starts delivering what it holds. */
  static start(options: ServiceOptions): { service: Service } | { errors: ConfigError[] } {
    const metrics = createMetrics();
    const deps: RelayDeps = { tokens: new TokenCache(), metrics };
    const built = loadRelay(options.configFile, options.env, deps);
    if ("errors" in built) return built;
    const store = OutboxStore.open(options.dataDir);
    const dispatcher = new Dispatcher(store, metrics, dispatcherOptions(built.relay));
    const service = new Service(built.relay, store, dispatcher, metrics, deps, options);
    service.install(built.relay);
    return { service };
  }

  get relay(): Relay {
    return this.current;
  }

  get ready(): boolean {
    return !this.stopped;
  }

  /**
   * Routes, renders and durably queues events. Resolves only after the outbox commit:
   * the caller may answer 2xx then. Requests arriving in the same event-loop turn share
   * one transaction (group commit), so one disk sync covers all of them.
   */
  accept(events: readonly Event[], options: { idempotencyKey?: string; match?: Match } = {}): Promise<Accepted> {
    // A request that slipped past the readiness check while shutting down: refuse it
    // (503, the sender retries) rather than write to a closing outbox.
    if (this.stopped) return Promise.reject(new ShuttingDownError());
    const messages = this.routeAll(events, options.match);
    return new Promise<Accepted>((resolve, reject) => {
      this.pendingWrites.push({ events, messages, idempotencyKey: options.idempotencyKey, resolve, reject });
      if (this.pendingWrites.length === 1) setImmediate(() => this.flushWrites());
    });
  }

  private routeAll(events: readonly Event[], match: Match | undefined): Message[] {
    const relay = this.current;
    const messages: Message[] = [];
    for (const event of events) {
      const routed = match ? relay.render(event, [match]) : relay.route(event);
      for (const routedMatch of routed.matches) this.metrics.eventsRouted.inc({ receiver: routedMatch.receiver });
      for (const fallback of routed.fallbacks) {
        this.metrics.renderFallbacks.inc({ template: fallback.template });
        logger.error("template failed at render time; sent a plain rendering", fallback);
      }
      messages.push(...routed.messages);
    }
    return messages;
  }

  /** Commits every pending request in one transaction, then answers each. */
  private flushWrites(): void {
    const batch = this.pendingWrites;
    this.pendingWrites = [];
    if (batch.length === 0) return;
    let written;
    try {
      written = this.store.enqueueMany(
        batch.map(({ messages, idempotencyKey }) => ({ messages, options: idempotencyKey === undefined ? {} : { idempotencyKey } })),
      );
    } catch (err) {
      logger.error("outbox write failed; requests answered with an error", { requests: batch.length, error: err });
      for (const pending of batch) pending.reject(err);
      return;
    }
    const targets = new Set<string>();
    batch.forEach((pending, i) => {
      const result = written[i]!;
      if (!result.duplicate) {
        // Counted once committed: a redelivery or a failed write is not a received event.
        for (const event of pending.events) this.metrics.eventsReceived.inc({ source: event.source, status: event.status ?? "none" });
        for (const message of pending.messages) {
          this.metrics.messagesQueued.inc({ target: message.target });
          targets.add(message.target);
        }
      }
      pending.resolve({ requestId: result.requestId, messages: result.deliveryIds.length, duplicate: result.duplicate });
    });
    for (const target of targets) this.dispatcher.notify(target);
  }

  /** Puts dead deliveries back in the queue; returns how many were requeued. */
  retry(deliveryIds: readonly string[]): number {
    const now = Date.now();
    const targets = new Set<string>();
    let requeued = 0;
    for (const id of deliveryIds) {
      const target = this.store.get(id)?.message.target;
      if (target !== undefined && this.store.requeue(id, now)) {
        requeued += 1;
        targets.add(target);
      }
    }
    for (const target of targets) this.dispatcher.notify(target);
    return requeued;
  }

  /** Reloads the config file; on any error the current config keeps serving. */
  reload(): { ok: true } | { ok: false; errors: string[] } {
    if (this.stopped) return { ok: false, errors: ["shutting down: reload ignored"] };
    const built = loadRelay(this.options.configFile, this.options.env, this.deps);
    if ("errors" in built) {
      const errors = built.errors.map(formatConfigError);
      this.metrics.configReloads.inc({ result: "failure" });
      this.metrics.configLastReloadSuccess.set(0);
      logger.error("config reload failed; keeping the current config", { errors });
      return { ok: false, errors };
    }
    this.install(built.relay);
    this.metrics.configReloads.inc({ result: "success" });
    logger.info("config reloaded", { file: this.options.configFile });
    return { ok: true };
  }

  /** Refreshes gauges that are read from the outbox, then renders the exposition. */
  async scrape(): Promise<string> {
    this.metrics.outboxDepth.reset();
    for (const target of Object.keys(this.current.config.targets)) this.metrics.outboxDepth.set({ target }, 0);
    for (const [target, depth] of this.store.depthByTarget()) this.metrics.outboxDepth.set({ target }, depth);
    return this.metrics.registry.metrics();
  }

  /** Finishes sends in flight and closes the outbox; queued rows stay for the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.flushWrites(); // requests already routed are committed (and answered) before closing
    await this.dispatcher.stop();
    this.store.close();
  }

  private install(relay: Relay): void {
    this.current = relay;
    for (const warning of relay.warnings) logger.warn("config warning", { warning: formatConfigError(warning) });
    redactor.setSecrets(relay.loaded.secrets);
    this.dispatcher.configure(relay.targets, relay.receiverThrottles(), dispatcherOptions(relay));
    this.metrics.configLastReloadSuccess.set(1);
    this.metrics.configLastReloadTime.set(Date.now() / 1000);
  }
}
