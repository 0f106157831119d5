// The Store contract: everything the delivery engine, the API and the console ask of the
// outbox. Two implementations keep it: SQLite (embedded, one process) and PostgreSQL
// (several replicas). Every SQL statement lives beside this file, in those two.
import type { ActionGroup } from "../actions/group.js";
import type { Delivery, Message } from "../types.js";
import type { ActionLog } from "./action-log.js";

export interface StoredDelivery extends Delivery {
  requestId: string;
}

/** What a request (one webhook call or API message) has become. */
export interface RequestStatus {
  id: string;
  /** queued while any part is queued; failed if any part is dead; else sent. */
  state: "queued" | "sent" | "failed";
  createdAt: number;
  deliveries: StoredDelivery[];
}

export interface AcceptRequest {
  messages: readonly Message[];
  /**
   * Accepted once: a second request with the same key (on any replica) writes nothing and
   * gets the first one's id. Kept until `idempotencyUntil`, or as long as the request.
   */
  idempotencyKey?: string;
  /** Epoch ms after which the key no longer marks a repeat (e.g. Alertmanager's repeat_interval). */
  idempotencyUntil?: number;
  /** Alert groups the messages are about, kept (latest state) to act on from WeCom. */
  groups?: readonly ActionGroup[];
}

export interface Accepted {
  requestId: string;
  deliveryIds: string[];
  /** The idempotency key was seen before: nothing was written. */
  duplicate: boolean;
}

export interface BrowseQuery {
  limit: number;
  /** Deliveries older than this one (ids sort by creation time). */
  before?: string;
  state?: "queued" | "sent" | "dead";
  target?: string;
  /** Created at or after (epoch ms). */
  since?: number;
  /** Created before (epoch ms). */
  until?: number;
}

export interface TargetActivity {
  lastSentAt?: number;
  lastError?: { error: string; at: number };
}

/** One target's queue, for the queue gauges. */
export interface QueueStats {
  queued: number;
  /** Rows whose next attempt is after `now`: they failed and wait for a retry. */
  waitingRetry: number;
  /** Epoch ms the oldest queued row was written (or requeued). */
  oldestCreatedAt: number;
}

/** A page position in a target's queue: rows are read in order of (next attempt, id). */
export interface QueueCursor {
  at: number;
  id: string;
}

/** Thrown when the database cannot be reached or written: answered 503, retried by the engine. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  /** Answered 503: the sender retries, nothing was acknowledged. */
  readonly status = 503;
}

export interface Store {
  readonly driver: "sqlite" | "postgres";
  /** Alert groups, sent cards and the actions taken on them. */
  readonly actions: ActionLog;

  /**
   * Writes several requests in one transaction (group commit: one sync for all), each
   * either whole or not at all. Resolves only once durable.
   */
  accept(requests: readonly AcceptRequest[], now: number): Promise<Accepted[]>;

  get(id: string): Promise<StoredDelivery | undefined>;
  /** A request's status, found by request id or by one of its delivery ids. */
  requestStatus(id: string): Promise<RequestStatus | undefined>;
  /** The most recent dead letters (of one target when given), newest first. */
  listDead(limit: number, target?: string): Promise<StoredDelivery[]>;
  /**
   * One page of deliveries, newest first, after the cursor `before` (a delivery id):
   * what the console lists and searches. Costs the page, never the table.
   */
  browse(query: BrowseQuery): Promise<StoredDelivery[]>;
  /** A target's last accepted send and its latest error (a retrying or dead delivery's). */
  targetActivity(target: string): Promise<TargetActivity>;
  /** Puts dead deliveries back in the queue, their age reset; returns the ids requeued with their targets. */
  requeue(ids: readonly string[], now: number): Promise<{ id: string; target: string }[]>;
  /** Queued rows per target, for the depth gauge. */
  depthByTarget(): Promise<Map<string, number>>;
  /**
   * Per target with queued rows: how many, how many wait for a retry (next attempt after
   * `now`), and when the oldest was queued. Costs an index lookup per target, not a walk
   * of the queue, so /metrics stays cheap at any backlog.
   */
  queueStats(now: number): Promise<Map<string, QueueStats>>;
  /** Disk space the outbox takes, in bytes. */
  sizeBytes(): Promise<number>;
  /** Targets that have queued rows. */
  queuedTargets(): Promise<string[]>;

  /**
   * Up to `limit` of the target's rows that are due at `now`, in the order they became due
   * (new rows: arrival order), after `after` when given: a page, so no read costs more
   * than what one send carries, however long the queue.
   */
  due(target: string, now: number, limit: number, after?: QueueCursor): Promise<StoredDelivery[]>;
  /** How many rows are due, counted up to `cap` only. */
  dueCount(target: string, now: number, cap: number): Promise<number>;
  /** Earliest next attempt among the target's queued rows. */
  nextDueAt(target: string): Promise<number | undefined>;

  /**
   * Makes every row of the target that waits for a retry due at `now`: the outage is over,
   * so they go out at once (at the target's pace) instead of each at its own backoff time.
   * Returns how many rows moved.
   */
  expedite(target: string, now: number): Promise<number>;
  /**
   * One set-based update per send: the rows WeCom accepted. Returns the ids it moved from
   * queued to sent (a row already finished is left alone and not returned).
   */
  markSent(ids: readonly string[], now: number): Promise<string[]>;
  markRetry(ids: readonly string[], nextAttemptAt: number, error: string): Promise<void>;
  /** Returns the ids it moved from queued to dead. */
  markDead(ids: readonly string[], error: string): Promise<string[]>;

  /**
   * Takes (or renews) the lease on `target` for `holder` until `now + leaseMs`. True while
   * `holder` holds it; false when another holder's lease has not expired.
   */
  claim(target: string, holder: string, now: number, leaseMs: number): Promise<boolean>;
  /** Gives up a lease early (shutdown), so another replica takes the target at once. */
  release(targets: readonly string[], holder: string): Promise<void>;

  /**
   * Reserves the next send slot on a pace key, atomically across replicas: the earliest
   * time at or after `now` that keeps at least `spacingMs` after the previous slot and at
   * most `max` slots in any `perMs` window (the sends before a reload count too). The
   * caller sends at the returned time; a slot it does not use is simply lost.
   */
  takeSlot(key: string, now: number, rate: { spacingMs: number; max: number; perMs: number }): Promise<number>;
  /** Gives back a slot taken but not used (the send was called off), so it does not delay the next one. */
  cancelSlot(key: string, slot: number): Promise<void>;
  /** No slot on `key` before `until` (WeCom said 45009: its window is full). */
  pauseKey(key: string, until: number): Promise<void>;
  /** When each pace key's next slot is free, for the paused-until gauge. */
  pausedUntil(key: string): Promise<number | undefined>;

  /** Deletes up to `limit` finished rows older than `before` (and as many action-log rows); returns how many deliveries. */
  purge(before: number, limit: number): Promise<number>;
  /** Cheap round trip: resolves when the database answers and can be written. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
