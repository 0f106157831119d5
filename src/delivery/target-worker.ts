// One send for one target: read what is due (a page at a time), pack it into the next
// unit, wait for its pace, send it, and record what WeCom said. Every step costs what the
// send carries, never the backlog. Rows change state only after WeCom answered, so a
// crash at any point leaves them queued (at-least-once).
import type PQueue from "p-queue";
import type { Channel } from "../channels/channel.js";
import type { RateLimit } from "../config/schema.js";
import { logger, redactor } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Store, StoredDelivery } from "../outbox/contract.js";
import type { Span, Tracer } from "../tracing/tracer.js";
import type { FailureClass, MessageType, SendResult, TraceRef } from "../types.js";
import { errcodeLabel } from "../channels/wecom/errcodes.js";
import type { Clock } from "./clock.js";
import { DigestPacker, shouldCoalesce, type DigestRenderer, type SendUnit } from "./coalesce.js";
import { paceInterval, type Pacer, type PaceKey } from "./pacer.js";
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

export interface SendPolicy {
  retry: RetryPolicy;
  /** Coalesce when the backlog would take longer than this to drain. */
  coalesceAfterMs: number;
  renderDigest: DigestRenderer;
}

export interface WorkerContext {
  store: Store;
  clock: Clock;
  pacer: Pacer;
  metrics: Metrics;
  /** A span per send attempt, linked to the receive span of every notification it carries. */
  tracer: Tracer;
  /** Bounds HTTP sends in flight over all targets. */
  sends: PQueue;
  policy(): SendPolicy;
  receiverThrottle(receiver: string): RateLimit | undefined;
  /** Targets whose last send failed and may pass again: their waiting retries go out once one succeeds. */
  failing: Set<string>;
}

/** Rows read per page while filling a digest. */
const PAGE_ROWS = 100;
const RATE_ERRCODE = 45009;
/** A pace wait longer than this may have let more rows arrive: plan the send again. */
const REPLAN_AFTER_WAIT_MS = 250;

export interface PlannedSend {
  unit: SendUnit;
  rows: ReadonlyMap<string, StoredDelivery>;
}

/** The next thing to send: the oldest due row, or a digest of the backlog's head. */
export async function planNext(ctx: WorkerContext, target: string, runtime: TargetRuntime, now: number): Promise<PlannedSend | undefined> {
  const { coalesceAfterMs, renderDigest } = ctx.policy();
  const interval = paceInterval(runtime.rateLimit);
  // Enough to tell whether the backlog passed the coalescing threshold, and no more.
  const due = await ctx.store.dueCount(target, now, Math.ceil(coalesceAfterMs / interval) + 1);
  if (due === 0) return undefined;
  if (!shouldCoalesce(due, interval, coalesceAfterMs)) {
    const [row] = await ctx.store.due(target, now, 1);
    return row && { unit: { message: row.message, rowIds: [row.id], coalesced: false }, rows: new Map([[row.id, row]]) };
  }
  const packer = new DigestPacker(target, runtime.byteLimit, renderDigest);
  const rows = new Map<string, StoredDelivery>();
  let page = await ctx.store.due(target, now, PAGE_ROWS);
  for (;;) {
    for (const row of page) {
      if (!packer.offer(row)) return { unit: packer.unit()!, rows };
      rows.set(row.id, row);
    }
    const last = page.at(-1);
    if (page.length < PAGE_ROWS || last === undefined) break;
    page = await ctx.store.due(target, now, PAGE_ROWS, { at: last.nextAttemptAt, id: last.id });
  }
  const unit = packer.unit();
  return unit && { unit, rows };
}

/**
 * Waits for the unit's pace, sends it and records the outcome. False when the send did
 * not happen (stopping, lease lost, robot paused meanwhile): its rows stay queued.
 */
export async function sendPlanned(
  ctx: WorkerContext,
  target: string,
  runtime: TargetRuntime,
  planned: PlannedSend,
  signal: AbortSignal,
): Promise<boolean> {
  const receiver = planned.unit.message.receiver;
  const keys: PaceKey[] = [];
  const throttle = ctx.receiverThrottle(receiver);
  if (throttle) keys.push({ key: `receiver:${receiver}`, rate: throttle, name: receiver });
  keys.push({ key: runtime.paceKey, rate: runtime.rateLimit, name: target });
  const waitFrom = ctx.clock.now();
  if (!(await ctx.pacer.acquire(keys, signal))) return false;
  // What arrived while the slot was awaited joins this send, so a storm's digest is complete.
  if (ctx.clock.now() - waitFrom > REPLAN_AFTER_WAIT_MS) {
    const fresh = await planNext(ctx, target, runtime, ctx.clock.now());
    if (fresh?.unit.message.receiver === receiver) planned = fresh;
  }
  const { unit } = planned;
  let attempt: SendAttempt | undefined;
  // A send still waiting for a free HTTP slot when shutdown begins is not started.
  const result = await ctx.sends.add(async () => {
    if (signal.aborted) return undefined;
    attempt = startAttempt(ctx, target, planned);
    return safeSend(runtime.channel, unit, attempt.log);
  });
  if (result === undefined || attempt === undefined) return false;
  try {
    await record(ctx, target, runtime, planned, result, attempt);
  } finally {
    attempt.span.end();
  }
  return true;
}

/** One send attempt: its span and what its log lines carry (trace, span, the rows it stands for). */
interface SendAttempt {
  span: Span;
  log: Record<string, unknown>;
}

function startAttempt(ctx: WorkerContext, target: string, planned: PlannedSend): SendAttempt {
  const { unit, rows } = planned;
  const carried = unit.rowIds.flatMap((id) => rows.get(id) ?? []);
  const traces = carried.flatMap((row) => row.message.trace ?? []);
  const span = ctx.tracer.send(traces, {
    "wecom_relay.target": target,
    "wecom_relay.receiver": unit.message.receiver,
    "wecom_relay.msgtype": unit.message.msgtype,
    "wecom_relay.coalesced": unit.coalesced,
    "wecom_relay.rows": unit.rowIds.length,
    "wecom_relay.delivery_ids": unit.rowIds,
    "wecom_relay.attempt": Math.max(0, ...carried.map((row) => row.attempts)) + 1,
    "wecom_relay.queued_ms": ctx.clock.now() - Math.min(...carried.map((row) => row.createdAt)),
  });
  return { span, log: sendLogFields(span.context, traces, unit.rowIds) };
}

/**
 * A send's log fields: its trace and span, the rows it carries, and for a digest (its own
 * trace) the trace ids of the notifications in it, so a search by any of them finds the line.
 */
function sendLogFields(send: TraceRef, carried: readonly TraceRef[], deliveryIds: readonly string[]): Record<string, unknown> {
  const traceIds = [...new Set(carried.map((ref) => ref.traceId))];
  return {
    trace_id: send.traceId,
    span_id: send.spanId,
    delivery_ids: deliveryIds,
    ...((traceIds.length !== 1 || traceIds[0] !== send.traceId) && { trace_ids: traceIds }),
  };
}

async function record(ctx: WorkerContext, target: string, runtime: TargetRuntime, planned: PlannedSend, result: SendResult, attempt: SendAttempt): Promise<void> {
  const { unit, rows } = planned;
  const now = ctx.clock.now();
  const { span, log } = attempt;
  span.set({ "wecom_relay.result": result.kind, ...(result.kind !== "ok" && { "wecom_relay.errcode": result.errcode }) });
  ctx.metrics.sendAttempts.inc({ target, result: result.kind === "refreshToken" ? "retry" : result.kind });
  if (result.kind === "ok") {
    const delivered = await ctx.store.markSent(unit.rowIds, now);
    span.set({ "wecom_relay.decision": "sent" });
    await rememberCard(ctx, target, unit, result.responseCode, now, log);
    // The target works again: what waits for a retry goes out now, at its pace, not
    // each row at its own backoff time (up to retry_max after the outage ended).
    if (ctx.failing.delete(target) || [...rows.values()].some((row) => row.attempts > 0)) {
      const moved = await ctx.store.expedite(target, now);
      if (moved > 0) logger.info("target recovered; sending its waiting retries now", { target, rows: moved });
    }
    // Counted from the rows this send moved to sent: each message once, however often it was tried.
    ctx.metrics.messagesDelivered.inc({ target }, delivered.length);
    if (unit.coalesced) ctx.metrics.coalesced.inc({ target }, delivered.length);
    for (const id of delivered) {
      const row = rows.get(id);
      if (row) ctx.metrics.deliveryLatency.observe({ target }, (now - row.createdAt) / 1000);
    }
    if (logger.isDebugEnabled()) logger.debug("delivered", { target, ...log, coalesced: unit.coalesced, events: unit.message.eventIds });
    return;
  }
  const failureClass = failureClassOf(result);
  ctx.metrics.sendFailures.inc({ target, class: failureClass });
  // A token failure repeats gettoken's errcode without asking WeCom again: counted at the fetch.
  if (result.errcode !== undefined && failureClass !== "token") ctx.metrics.wecomErrors.inc({ target, errcode: errcodeLabel(result.errcode) });
  if (result.kind !== "permanent") ctx.failing.add(target);
  let effective = result;
  if (result.kind === "retry" && result.errcode === RATE_ERRCODE) {
    // WeCom counted more than we sent (another sender shares the robot): every target on
    // it, on every replica, waits out its window.
    const windowMs = runtime.rateLimit.per;
    await ctx.pacer.pause(runtime.paceKey, now + windowMs);
    effective = { ...result, afterMs: windowMs };
    logger.warn("WeCom rate limit hit; pausing the robot for its window", { target, pauseMs: windowMs, ...log });
  }
  await recordFailure(ctx, target, unit, rows, effective, now, attempt);
}

/** A sent card's response_code is what updates it later (a click, the group resolving). */
async function rememberCard(ctx: WorkerContext, target: string, unit: SendUnit, responseCode: string | undefined, now: number, log: Record<string, unknown>): Promise<void> {
  const action = unit.message.action;
  if (responseCode === undefined || action?.task === undefined) return;
  try {
    await ctx.store.actions.saveCard({ taskId: action.task, group: action.group, target, responseCode, sentAt: now });
  } catch (err) {
    // The card is out; only its later update is lost. Never send it twice for this.
    logger.warn("could not remember a sent card; it will not be updated", { target, task: action.task, error: err, ...log });
  }
}

/** One retry time for the whole unit (its rows go out together again); rows past max_age are given up. */
async function recordFailure(
  ctx: WorkerContext,
  target: string,
  unit: SendUnit,
  rows: ReadonlyMap<string, StoredDelivery>,
  result: Exclude<SendResult, { kind: "ok" }>,
  now: number,
  { span, log }: SendAttempt,
): Promise<void> {
  const { retry } = ctx.policy();
  // Stored and shown by the API: WeCom or a proxy may echo a key, a secret or a token.
  result = { ...result, error: redactor.redact(result.error) };
  span.fail(result.error);
  const carried = unit.rowIds.flatMap((id) => rows.get(id) ?? []);
  const attempts = Math.max(0, ...carried.map((row) => row.attempts));
  const retrying: string[] = [];
  const dead = new Map<string, { reason: string; ids: string[] }>();
  let retryAt = now;
  for (const row of carried) {
    const decision = decideRetry(result, { attempts, createdAt: row.createdAt }, now, retry);
    if (decision.action === "retry") {
      retrying.push(row.id);
      retryAt = Math.max(retryAt, decision.at);
    } else {
      const group = dead.get(decision.error) ?? { reason: decision.reason, ids: [] };
      group.ids.push(row.id);
      dead.set(decision.error, group);
    }
  }
  span.set({
    "wecom_relay.decision": retrying.length > 0 ? (dead.size > 0 ? "retry and dead-letter" : "retry") : "dead-letter",
    ...(retrying.length > 0 && { "wecom_relay.retry_in_ms": retryAt - now, "wecom_relay.retry_rows": retrying.length }),
    ...(dead.size > 0 && { "wecom_relay.dead_reasons": [...dead.values()].map((group) => group.reason) }),
  });
  if (retrying.length > 0) {
    await ctx.store.markRetry(retrying, retryAt, result.error);
    const firstFailures = retrying.filter((id) => rows.get(id)?.attempts === 0).length;
    ctx.metrics.messagesRetried.inc({ target }, firstFailures);
    logger.warn("send failed; will retry", { target, ...log, delivery_ids: retrying, error: result.error, errcode: result.errcode, retryInMs: retryAt - now });
  }
  for (const [error, { reason, ids }] of dead) {
    const marked = await ctx.store.markDead(ids, error);
    ctx.metrics.deadLetters.inc({ target, reason }, marked.length);
    logger.error("delivery dead-lettered", { target, ...log, delivery_ids: ids, reason, error });
  }
}

/** The `class` label of a failed send: set by the channel, else an errcode's, else a bug's. */
function failureClassOf(result: Exclude<SendResult, { kind: "ok" }>): FailureClass {
  if (result.kind === "refreshToken") return "errcode";
  return result.class ?? (result.errcode !== undefined ? "errcode" : "internal");
}

async function safeSend(channel: Channel, unit: SendUnit, log: Record<string, unknown>): Promise<SendResult> {
  try {
    return await channel.send(unit.message, { log });
  } catch (err) {
    // Channels return errors as values; a throw is a bug, but the row must not be lost.
    return { kind: "retry", error: `internal error: ${(err as Error).message}`, class: "internal" };
  }
}
