// The running process: the outbox, the dispatcher and metrics live as long as the
// process; the Relay (one loaded config) is swapped atomically on reload.
import { formatConfigError, type ConfigError } from "./config/errors.js";
import type { Dispatcher, DispatcherOptions } from "./delivery/dispatcher.js";
import { logger, redactor } from "./log.js";
import type { Metrics } from "./metrics.js";
import { StoreUnavailableError, type AcceptRequest, type Accepted as StoredAccepted, type Store } from "./outbox/contract.js";
import { refreshGauges } from "./metric-gauges.js";
import { createSeries } from "./metric-series.js";
import { warmUp } from "./warm-up.js";
import type { ActionGroup } from "./actions/group.js";
import type { Relay } from "./relay.js";
import { traceFields } from "./tracing/trace-context.js";
import type { Span, Tracer } from "./tracing/tracer.js";
import type { Event, Match, Message } from "./types.js";

/** What a Service is built from (by the composition root, app.ts). */
export interface ServiceParts {
  relay: Relay;
  store: Store;
  dispatcher: Dispatcher;
  metrics: Metrics;
  /** Spans of each notification (ids only when tracing is off); shut down with the service. */
  tracer: Tracer;
  /** The config file, named in log lines. */
  configFile: string;
  /** Loads the config file again into a new Relay, for reload. */
  load(): { relay: Relay } | { errors: ConfigError[] };
  /** Told of the alert groups each accepted request resolved (their cards are updated). */
  onResolved?(groups: readonly ActionGroup[]): Promise<void>;
}

export interface Accepted {
  requestId: string;
  messages: number;
  duplicate: boolean;
}

export function dispatcherOptions(relay: Relay): DispatcherOptions {
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

export interface AcceptOptions {
  /** Accepted once across replicas: a repeat writes nothing and is answered as a duplicate. */
  idempotencyKey?: string;
  /** How long the key marks a repeat; forever (as long as the request is kept) when absent. */
  idempotencyWindowMs?: number;
  /** Matches decided by the caller (the API names its receiver) instead of the routes. */
  match?: Match;
  /** The request's receive span: routing, rendering and the commit are its children, and the messages carry its trace. */
  trace?: Span | undefined;
}

interface PendingWrite {
  events: readonly Event[];
  messages: Message[];
  groups: ActionGroup[];
  request: AcceptRequest;
  receive: Span;
  commit: Span;
  resolve: (accepted: Accepted) => void;
  reject: (err: unknown) => void;
}

/** Group commits in flight at once on PostgreSQL: each waits on round trips, not on the CPU. */
const CONCURRENT_POSTGRES_WRITES = 4;

/** How often readiness asks the database whether it answers. */
const HEALTH_CHECK_MS = 2000;

export class Service {
  private stopped = false;
  private pendingWrites: PendingWrite[] = [];
  /** Group commits under way; SQLite has one writer, PostgreSQL takes several at once. */
  private readonly writing = new Set<Promise<void>>();
  /** Why the outbox cannot take writes now; undefined while it can. */
  private storeProblem: string | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  private current: Relay;
  readonly store: Store;
  readonly dispatcher: Dispatcher;
  readonly metrics: Metrics;
  readonly tracer: Tracer;

  constructor(private readonly parts: ServiceParts) {
    this.current = parts.relay;
    this.store = parts.store;
    this.dispatcher = parts.dispatcher;
    this.metrics = parts.metrics;
    this.tracer = parts.tracer;
  }

  /** Watches the outbox's health; delivery was started by the dispatcher. */
  start(): this {
    this.install(this.current);
    this.healthTimer = setInterval(() => void this.checkStore(), HEALTH_CHECK_MS).unref();
    return this;
  }

  get relay(): Relay {
    return this.current;
  }

  /** Serving: not stopping, and the outbox answers (a 2xx needs a commit). */
  get ready(): boolean {
    return !this.stopped && this.storeProblem === undefined;
  }

  /** Why the relay is not ready, for the probe's answer. */
  get notReadyReason(): string | undefined {
    if (this.stopped) return "shutting down";
    return this.storeProblem;
  }

  private async checkStore(): Promise<void> {
    try {
      await this.store.ping();
      if (this.storeProblem !== undefined) logger.info("outbox can be written again; ready", { was: this.storeProblem });
      this.storeProblem = undefined;
    } catch (err) {
      this.outboxFailed(err);
    }
  }

  /** Not ready (webhooks 503) until the health check writes again: a 2xx needs a commit. */
  private outboxFailed(err: unknown): void {
    this.metrics.outboxWriteFailures.inc();
    const problem = err instanceof StoreUnavailableError ? "the outbox database does not answer" : `the outbox cannot be written: ${redactor.redact((err as Error).message)}`;
    if (this.storeProblem === undefined) logger.error("outbox write failed; not ready until it can write again", { reason: problem });
    this.storeProblem = problem;
  }

  /**
   * Routes, renders and durably queues events. Resolves only after the outbox commit:
   * the caller may answer 2xx then. Requests arriving while a write is in flight share
   * the next transaction (group commit), so one sync covers all of them.
   */
  accept(events: readonly Event[], options: AcceptOptions = {}): Promise<Accepted> {
    // A request that slipped past the readiness check while shutting down: refuse it
    // (503, the sender retries) rather than write to a closing outbox.
    if (this.stopped) return Promise.reject(new ShuttingDownError());
    // A caller without a request (none in the relay today) still gets a trace of its own.
    const receive = options.trace ?? this.tracer.receive("accept", undefined, {});
    const { messages, groups } = this.routeAll(events, options.match, receive);
    const now = Date.now();
    const request: AcceptRequest = {
      messages,
      ...(groups.length > 0 && { groups }),
      ...(options.idempotencyKey !== undefined && { idempotencyKey: options.idempotencyKey }),
      ...(options.idempotencyWindowMs !== undefined && { idempotencyUntil: now + options.idempotencyWindowMs }),
    };
    const commit = this.tracer.child(receive, "outbox commit", { "db.system.name": this.store.driver === "postgres" ? "postgresql" : "sqlite" });
    const accepted = new Promise<Accepted>((resolve, reject) => {
      this.pendingWrites.push({ events, messages, groups, request, receive, commit, resolve, reject });
      if (this.pendingWrites.length === 1 && this.writing.size < this.maxWrites) setImmediate(() => void this.flushWrites());
    });
    if (options.trace === undefined) accepted.then(() => receive.end(), () => receive.end());
    return accepted;
  }

  /** Routes and renders each event (a span each); every message carries the request's trace. */
  private routeAll(events: readonly Event[], match: Match | undefined, receive: Span): { messages: Message[]; groups: ActionGroup[] } {
    const relay = this.current;
    const trace = receive.context;
    const messages: Message[] = [];
    const groups: ActionGroup[] = [];
    for (const event of events) {
      const routing = this.tracer.child(receive, "route", { "wecom_relay.source": event.source });
      const matches = match ? [match] : relay.routes.match(event.labels);
      if (this.tracer.exporting) routing.set({ "wecom_relay.receivers": matches.map((m) => m.receiver), "wecom_relay.routes": matches.map((m) => m.route) });
      routing.end();
      const rendering = this.tracer.child(receive, "render");
      const routed = relay.render(event, matches);
      if (this.tracer.exporting) rendering.set({ "wecom_relay.messages": routed.messages.length, "wecom_relay.templates": matches.map((m) => `${m.template}.${m.format}`) });
      for (const routedMatch of routed.matches) this.metrics.eventsRouted.inc({ receiver: routedMatch.receiver });
      for (const fallback of routed.fallbacks) {
        this.metrics.renderFallbacks.inc({ template: fallback.template });
        rendering.fail(`template ${fallback.template} failed; sent a plain rendering`);
        logger.error("template failed at render time; sent a plain rendering", { ...fallback, ...traceFields(rendering.context) });
      }
      rendering.end();
      // Rendered for this request alone: each message takes the trace in place, no copy.
      for (const message of routed.messages) {
        message.trace = trace;
        messages.push(message);
      }
      if (routed.group) groups.push(routed.group);
    }
    return { messages, groups };
  }

  private get maxWrites(): number {
    return this.store.driver === "postgres" ? CONCURRENT_POSTGRES_WRITES : 1;
  }

  /** Commits every pending request in one transaction, answers each, then the next batch. */
  private async flushWrites(): Promise<void> {
    const batch = this.pendingWrites;
    this.pendingWrites = [];
    if (batch.length === 0) return;
    let done!: () => void;
    const writing = new Promise<void>((resolve) => (done = resolve));
    this.writing.add(writing);
    try {
      const written = await this.store.accept(
        batch.map((pending) => pending.request),
        Date.now(),
      );
      this.answer(batch, written);
    } catch (err) {
      this.outboxFailed(err);
      logger.error("outbox write failed; requests answered with an error", { requests: batch.length, error: err, trace_ids: batch.map((pending) => pending.receive.context.traceId) });
      for (const pending of batch) {
        pending.commit.fail("outbox write failed");
        pending.commit.end();
        pending.reject(err);
      }
    } finally {
      this.writing.delete(writing);
      done();
      if (this.pendingWrites.length > 0 && this.writing.size < this.maxWrites) void this.flushWrites();
    }
  }

  private answer(batch: readonly PendingWrite[], written: readonly StoredAccepted[]): void {
    const targets = new Set<string>();
    const resolved: ActionGroup[] = [];
    const resolvedTraces: string[] = [];
    batch.forEach((pending, i) => {
      const result = written[i]!;
      if (this.tracer.exporting) {
        const stored = { "wecom_relay.request_id": result.requestId, "wecom_relay.delivery_ids": result.deliveryIds, "wecom_relay.duplicate": result.duplicate };
        pending.commit.set({ ...stored, "wecom_relay.batch_requests": batch.length });
        pending.receive.set(stored);
      }
      pending.commit.end();
      if (logger.isDebugEnabled()) {
        logger.debug("queued", { ...traceFields(pending.receive.context), request_id: result.requestId, delivery_ids: result.deliveryIds, duplicate: result.duplicate });
      }
      if (!result.duplicate) {
        // Counted once committed: a redelivery or a failed write is not a received event.
        for (const event of pending.events) this.metrics.eventsReceived.inc({ source: event.source, status: event.status ?? "none" });
        for (const message of pending.messages) {
          this.metrics.messagesQueued.inc({ target: message.target });
          targets.add(message.target);
        }
        const groups = pending.groups.filter((group) => group.status === "resolved");
        resolved.push(...groups);
        if (groups.length > 0) resolvedTraces.push(pending.receive.context.traceId);
      }
      pending.resolve({ requestId: result.requestId, messages: result.deliveryIds.length, duplicate: result.duplicate });
    });
    for (const target of targets) this.dispatcher.notify(target);
    if (resolved.length > 0 && this.parts.onResolved) {
      // After the answer: updating cards at WeCom must not hold up the sender.
      this.parts.onResolved(resolved).catch((err: unknown) => logger.warn("could not update the cards of resolved groups", { error: err, trace_ids: resolvedTraces }));
    }
  }

  /** Puts dead deliveries back in the queue; returns how many were requeued. */
  async retry(deliveryIds: readonly string[]): Promise<number> {
    const requeued = await this.store.requeue(deliveryIds, Date.now());
    for (const target of new Set(requeued.map((row) => row.target))) this.dispatcher.notify(target);
    return requeued.length;
  }

  /** Reloads the config file; on any error the current config keeps serving. */
  reload(): { ok: true } | { ok: false; errors: string[] } {
    if (this.stopped) return { ok: false, errors: ["shutting down: reload ignored"] };
    const built = this.parts.load();
    if ("errors" in built) {
      const errors = built.errors.map(formatConfigError);
      this.metrics.configReloads.inc({ result: "failure" });
      this.metrics.configLastReloadSuccess.set(0);
      logger.error("config reload failed; keeping the current config", { errors });
      return { ok: false, errors };
    }
    if (JSON.stringify(built.relay.config.tracing) !== JSON.stringify(this.current.config.tracing)) {
      logger.warn("config reloaded, but tracing settings are read at start only: restart to apply them");
    }
    this.install(built.relay);
    this.metrics.configReloads.inc({ result: "success" });
    logger.info("config reloaded", { file: this.parts.configFile });
    return { ok: true };
  }

  /** Refreshes the gauges read from the outbox, the pacer and the token cache, then renders the exposition. */
  async scrape(): Promise<string> {
    await refreshGauges(this.metrics, this.store, this.current.targets, Date.now());
    return this.metrics.registry.metrics();
  }

  /** Finishes sends in flight and closes the outbox; queued rows stay for the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.healthTimer);
    // Requests already routed are committed (and answered) before closing.
    await Promise.all(this.writing);
    await this.flushWrites();
    await this.dispatcher.stop();
    await this.store.close();
    // After the last send: its span is exported with the rest.
    await this.tracer.shutdown().catch((err: unknown) => logger.warn("tracing: spans not exported at shutdown", { error: err }));
  }

  private install(relay: Relay): void {
    warmUp(relay);
    this.current = relay;
    for (const warning of relay.warnings) logger.warn("config warning", { warning: formatConfigError(warning) });
    redactor.setSecrets(relay.loaded.secrets);
    createSeries(this.metrics, relay.config, relay.templates.names());
    this.dispatcher.configure(relay.targets, relay.receiverThrottles(), dispatcherOptions(relay));
    this.metrics.configLastReloadSuccess.set(1);
    this.metrics.configLastReloadTime.set(Date.now() / 1000);
  }
}
