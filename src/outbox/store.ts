// The durable outbox: the only file that touches SQL. A row is written before the
// webhook is answered, and leaves the queued state only when WeCom accepted it or it
// was given up (dead). WAL mode keeps writes cheap and readers unblocked.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Delivery, DeliveryState, Message } from "../types.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL REFERENCES requests(id),
  target TEXT NOT NULL,
  message TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (target, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_fifo ON deliveries (target, state, created_at);
CREATE INDEX IF NOT EXISTS deliveries_sent ON deliveries (state, target, sent_at);
CREATE INDEX IF NOT EXISTS deliveries_request ON deliveries (request_id);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, created_at);
`;

interface DeliveryRow {
  id: string;
  request_id: string;
  target: string;
  message: string;
  state: DeliveryState;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
  sent_at: number | null;
}

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

export interface EnqueueOptions {
  idempotencyKey?: string;
  now?: number;
}

export interface Enqueued {
  requestId: string;
  deliveryIds: string[];
  /** The idempotency key was seen before: nothing was written. */
  duplicate: boolean;
}

function toDelivery(row: DeliveryRow): StoredDelivery {
  return {
    id: row.id,
    requestId: row.request_id,
    message: JSON.parse(row.message) as Message,
    state: row.state,
    attempts: row.attempts,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at,
    ...(row.last_error !== null && { lastError: row.last_error }),
    ...(row.sent_at !== null && { sentAt: row.sent_at }),
  };
}

export class OutboxStore {
  private readonly db: Database.Database;
  private readonly statements;

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // FULL: a row answered 2xx must survive power loss, not just a process kill.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      insertRequest: db.prepare("INSERT INTO requests (id, idempotency_key, created_at) VALUES (?, ?, ?)"),
      requestByKey: db.prepare("SELECT id FROM requests WHERE idempotency_key = ?").pluck(),
      requestById: db.prepare("SELECT id, created_at FROM requests WHERE id = ?"),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (id, request_id, target, message, state, attempts, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)`,
      ),
      byId: db.prepare("SELECT * FROM deliveries WHERE id = ?"),
      byRequest: db.prepare("SELECT * FROM deliveries WHERE request_id = ? ORDER BY created_at, rowid"),
      // Walks the target's queue in arrival order (no sort of the whole backlog), skipping
      // rows waiting for a retry: cheap however long the queue grows.
      due: db.prepare(
        `SELECT * FROM deliveries INDEXED BY deliveries_fifo
         WHERE target = ? AND state = 'queued' AND next_attempt_at <= ?
         ORDER BY created_at LIMIT ?`,
      ),
      // Counts at most `cap` rows: callers only ask whether the backlog passed a threshold.
      dueCount: db
        .prepare(
          `SELECT count(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_due
           WHERE target = ? AND state = 'queued' AND next_attempt_at <= ? LIMIT ?)`,
        )
        .pluck(),
      nextDueAt: db.prepare("SELECT min(next_attempt_at) FROM deliveries WHERE target = ? AND state = 'queued'").pluck(),
      lastSent: db.prepare("SELECT target, max(sent_at) AS at FROM deliveries WHERE state = 'sent' GROUP BY target"),
      queuedTargets: db.prepare("SELECT DISTINCT target FROM deliveries WHERE state = 'queued'").pluck(),
      depth: db.prepare("SELECT target, count(*) AS n FROM deliveries WHERE state = 'queued' GROUP BY target"),
      markSent: db.prepare(
        // The error of an earlier attempt no longer describes a delivered message.
        "UPDATE deliveries SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 'queued'",
      ),
      markRetry: db.prepare(
        `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
         WHERE id = ? AND state = 'queued'`,
      ),
      markDead: db.prepare(
        `UPDATE deliveries SET state = 'dead', attempts = attempts + ?, last_error = ?
         WHERE id = ? AND state = 'queued'`,
      ),
      requeue: db.prepare(
        "UPDATE deliveries SET state = 'queued', next_attempt_at = ?, created_at = ? WHERE id = ? AND state = 'dead'",
      ),
      dead: db.prepare("SELECT * FROM deliveries WHERE state = 'dead' ORDER BY created_at DESC LIMIT ?"),
      purge: db.prepare("DELETE FROM deliveries WHERE state != 'queued' AND created_at < ?"),
      purgeRequests: db.prepare(
        "DELETE FROM requests WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = requests.id)",
      ),
    };
  }

  /** Opens (creating if needed) `<dataDir>/outbox.db`. */
  static open(dataDir: string): OutboxStore {
    mkdirSync(dataDir, { recursive: true });
    return new OutboxStore(join(dataDir, "outbox.db"));
  }

  /**
   * Writes one request and its messages in a single transaction: either all are durable
   * or none is. With an idempotency key seen before, writes nothing and returns the
   * earlier request's id with `duplicate: true`.
   */
  enqueue(messages: readonly Message[], options: EnqueueOptions = {}): Enqueued {
    return this.enqueueMany([{ messages, options }])[0]!;
  }

  /**
   * Writes several requests in one transaction (group commit: one disk sync for all of
   * them), each as `enqueue` would.
   */
  enqueueMany(requests: readonly { messages: readonly Message[]; options?: EnqueueOptions }[]): Enqueued[] {
    return this.db.transaction(() => requests.map(({ messages, options }) => this.insertRequest(messages, options ?? {})))();
  }

  private insertRequest(messages: readonly Message[], options: EnqueueOptions): Enqueued {
    const now = options.now ?? Date.now();
    if (options.idempotencyKey !== undefined) {
      const existing = this.statements.requestByKey.get(options.idempotencyKey) as string | undefined;
      if (existing !== undefined) return { requestId: existing, deliveryIds: [], duplicate: true };
    }
    const requestId = randomUUID();
    this.statements.insertRequest.run(requestId, options.idempotencyKey ?? null, now);
    const deliveryIds = messages.map((message) => {
      const id = randomUUID();
      this.statements.insertDelivery.run(id, requestId, message.target, JSON.stringify(message), now, now);
      return id;
    });
    return { requestId, deliveryIds, duplicate: false };
  }

  get(id: string): StoredDelivery | undefined {
    const row = this.statements.byId.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  /** A request's status, found by request id or by one of its delivery ids. */
  requestStatus(id: string): RequestStatus | undefined {
    const request = this.statements.requestById.get(id) as { id: string; created_at: number } | undefined;
    const requestId = request?.id ?? this.get(id)?.requestId;
    if (requestId === undefined) return undefined;
    const deliveries = (this.statements.byRequest.all(requestId) as DeliveryRow[]).map(toDelivery);
    const created = (this.statements.requestById.get(requestId) as { created_at: number }).created_at;
    const state = deliveries.some((d) => d.state === "queued")
      ? "queued"
      : deliveries.some((d) => d.state === "dead")
        ? "failed"
        : "sent";
    return { id: requestId, state, createdAt: created, deliveries };
  }

  due(target: string, now: number, limit: number): StoredDelivery[] {
    return (this.statements.due.all(target, now, limit) as DeliveryRow[]).map(toDelivery);
  }

  /** Due rows for `target`, counted up to `cap`. */
  dueCount(target: string, now: number, cap = Number.MAX_SAFE_INTEGER): number {
    return this.statements.dueCount.get(target, now, cap) as number;
  }

  /** Earliest next attempt among the target's queued rows, or undefined if none. */
  nextDueAt(target: string): number | undefined {
    return (this.statements.nextDueAt.get(target) as number | null) ?? undefined;
  }

  /** When each target last had a delivery accepted (kept rows only: 7 days). */
  lastSentByTarget(): Map<string, number> {
    const rows = this.statements.lastSent.all() as { target: string; at: number }[];
    return new Map(rows.map((row) => [row.target, row.at]));
  }

  queuedTargets(): string[] {
    return this.statements.queuedTargets.all() as string[];
  }

  depthByTarget(): Map<string, number> {
    const rows = this.statements.depth.all() as { target: string; n: number }[];
    return new Map(rows.map((row) => [row.target, row.n]));
  }

  markSent(ids: readonly string[], now: number): void {
    this.db.transaction(() => ids.forEach((id) => this.statements.markSent.run(now, id)))();
  }

  markRetry(id: string, nextAttemptAt: number, error: string): void {
    this.statements.markRetry.run(nextAttemptAt, error, id);
  }

  /** `attempted` is false when the row is given up without a send (e.g. max_age). */
  markDead(ids: readonly string[], error: string, attempted = true): void {
    this.db.transaction(() => ids.forEach((id) => this.statements.markDead.run(attempted ? 1 : 0, error, id)))();
  }

  /** Puts a dead delivery back in the queue, its age reset; false if it was not dead. */
  requeue(id: string, now: number): boolean {
    return this.statements.requeue.run(now, now, id).changes > 0;
  }

  listDead(limit: number): StoredDelivery[] {
    return (this.statements.dead.all(limit) as DeliveryRow[]).map(toDelivery);
  }

  /** Forgets sent and dead rows (and their idempotency keys) older than `before`. */
  purge(before: number): number {
    return this.db.transaction(() => {
      const removed = this.statements.purge.run(before).changes;
      this.statements.purgeRequests.run(before);
      return removed;
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
