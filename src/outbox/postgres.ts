// The Store on PostgreSQL: one outbox shared by any number of replicas. Leases give each
// target one worker at a time, pace slots are taken under a row lock so replicas share
// one pace per robot, and idempotency keys are unique in the database itself.
import { orderedId } from "./ids.js";
import pg from "pg";
import { logger } from "../log.js";
import {
  StoreUnavailableError,
  type Accepted,
  type AcceptRequest,
  type BrowseQuery,
  type TargetActivity,
  type QueueCursor,
  type QueueStats,
  type RequestStatus,
  type Store,
  type StoredDelivery,
} from "./contract.js";
import { ACTION_TABLES, PostgresActionLog } from "./postgres-actions.js";
import { browseFilter, nextSlot, requestState, SENT_INDEX, targetActivity, toDelivery, withoutSlot, type DeliveryRow } from "./rows.js";

/** Versioned schema, applied in order at start under an advisory lock. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE requests (
     id TEXT PRIMARY KEY,
     idempotency_key TEXT UNIQUE,
     idempotency_until BIGINT,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE deliveries (
     id TEXT COLLATE "C" PRIMARY KEY,
     request_id TEXT NOT NULL REFERENCES requests(id),
     target TEXT NOT NULL,
     message TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'dead')),
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at BIGINT NOT NULL,
     next_attempt_at BIGINT NOT NULL,
     last_error TEXT,
     sent_at BIGINT
   );
   CREATE INDEX deliveries_request ON deliveries (request_id);
   CREATE INDEX deliveries_state ON deliveries (state, created_at);
   CREATE INDEX deliveries_queue ON deliveries (target, state, next_attempt_at, id);
   CREATE TABLE pace (key TEXT PRIMARY KEY, recent BIGINT[] NOT NULL, paused_until BIGINT NOT NULL);
   CREATE TABLE leases (target TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);`,
  ACTION_TABLES,
  SENT_INDEX,
];

/** Every table the migrations create, for the outbox size gauge. */
const RELAY_TABLES = ["requests", "deliveries", "pace", "leases", "action_groups", "cards", "actions", "schema_migrations"];

/** Any fixed number: replicas starting together take turns at migrating. */
const MIGRATION_LOCK = 0x77_65_63_6f; // "weco"

/** node-postgres codes for a server that is down, restarting or unreachable. */
const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"]);

function unavailable(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  return typeof message === "string" && /timeout|terminat|Connection|closed/i.test(message);
}

type Client = pg.PoolClient;

export interface PostgresOptions {
  url: string;
  /** Longest wait for a connection or a statement. */
  timeoutMs?: number;
}

export class PostgresStore implements Store {
  readonly driver = "postgres";

  readonly actions: PostgresActionLog;

  private constructor(private readonly pool: pg.Pool) {
    this.actions = new PostgresActionLog((sql, values) => this.query(sql, values));
  }

  /** Connects and applies pending migrations (safely when replicas start together). */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: 10,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs,
      application_name: "wecom-relay",
    });
    // An idle connection dropped by a restarting server must not crash the process.
    pool.on("error", (err) => logger.warn("database connection lost; it is replaced on next use", { error: err.message }));
    const store = new PostgresStore(pool);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)");
      const { rows } = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
      const applied = rows[0]?.v ?? 0;
      for (const [index, sql] of MIGRATIONS.entries()) {
        if (index + 1 <= applied) continue;
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [index + 1]);
        logger.info("database migrated", { version: index + 1 });
      }
    });
  }

  /** Runs `work` in one transaction; connection trouble becomes StoreUnavailableError. */
  private async transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      // A broken connection is not returned to the pool.
      client.release(unavailable(err) ? (err as Error) : undefined);
      throw this.translate(err);
    }
  }

  private async connect(): Promise<Client> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.translate(err);
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw this.translate(err);
    }
  }

  private translate(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !unavailable(err)) return err;
    return new StoreUnavailableError(`database unavailable: ${(err as Error).message}`);
  }

  accept(requests: readonly AcceptRequest[], now: number): Promise<Accepted[]> {
    return this.transaction(async (client) => {
      const results: Accepted[] = [];
      for (const request of requests) results.push(await this.insertRequest(client, request, now));
      return results;
    });
  }

  private async insertRequest(client: Client, request: AcceptRequest, now: number): Promise<Accepted> {
    const key = request.idempotencyKey ?? null;
    const requestId = orderedId();
    if (key !== null) {
      // A key whose window passed no longer marks a repeat.
      await client.query("UPDATE requests SET idempotency_key = NULL WHERE idempotency_key = $1 AND idempotency_until <= $2", [key, now]);
    }
    const inserted = await client.query(
      `INSERT INTO requests (id, idempotency_key, idempotency_until, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
      [requestId, key, request.idempotencyUntil ?? null, now],
    );
    if (inserted.rowCount === 0) {
      const { rows } = await client.query<{ id: string }>("SELECT id FROM requests WHERE idempotency_key = $1", [key]);
      return { requestId: rows[0]!.id, deliveryIds: [], duplicate: true };
    }
    const deliveryIds = request.messages.map(() => orderedId());
    if (deliveryIds.length > 0) {
      await client.query(
        `INSERT INTO deliveries (id, request_id, target, message, state, attempts, created_at, next_attempt_at)
         SELECT id, $2, target, message, 'queued', 0, $3, $3 FROM unnest($1::text[], $4::text[], $5::text[]) AS m(id, target, message)`,
        [deliveryIds, requestId, now, request.messages.map((m) => m.target), request.messages.map((m) => JSON.stringify(m))],
      );
    }
    if (request.groups) await PostgresActionLog.saveGroups(client, request.groups, now);
    return { requestId, deliveryIds, duplicate: false };
  }

  async get(id: string): Promise<StoredDelivery | undefined> {
    const [row] = await this.query<DeliveryRow>("SELECT * FROM deliveries WHERE id = $1", [id]);
    return row && toDelivery(row);
  }

  async requestStatus(id: string): Promise<RequestStatus | undefined> {
    const [request] = await this.query<{ id: string; created_at: string }>(
      `SELECT id, created_at FROM requests WHERE id = $1
       UNION ALL SELECT r.id, r.created_at FROM requests r JOIN deliveries d ON d.request_id = r.id WHERE d.id = $1
       LIMIT 1`,
      [id],
    );
    if (request === undefined) return undefined;
    const deliveries = (await this.query<DeliveryRow>("SELECT * FROM deliveries WHERE request_id = $1 ORDER BY created_at, id", [request.id])).map(toDelivery);
    return { id: request.id, state: requestState(deliveries), createdAt: Number(request.created_at), deliveries };
  }

  async listDead(limit: number, target?: string): Promise<StoredDelivery[]> {
    const rows =
      target === undefined
        ? await this.query<DeliveryRow>("SELECT * FROM deliveries WHERE state = 'dead' ORDER BY created_at DESC LIMIT $1", [limit])
        : await this.query<DeliveryRow>("SELECT * FROM deliveries WHERE target = $1 AND state = 'dead' ORDER BY next_attempt_at DESC LIMIT $2", [target, limit]);
    return rows.map(toDelivery);
  }

  async browse(query: BrowseQuery): Promise<StoredDelivery[]> {
    const { where, args } = browseFilter(query, (n) => `$${n}`);
    const rows = await this.query<DeliveryRow>(`SELECT * FROM deliveries ${where} ORDER BY id DESC LIMIT $${args.length + 1}`, [...args, query.limit]);
    return rows.map(toDelivery);
  }

  async targetActivity(target: string): Promise<TargetActivity> {
    type ErrorRow = { last_error: string | null; next_attempt_at: string };
    const [sent] = await this.query<{ at: string | null }>("SELECT max(sent_at) AS at FROM deliveries WHERE target = $1 AND state = 'sent'", [target]);
    const [retrying] = await this.query<ErrorRow>(
      "SELECT last_error, next_attempt_at FROM deliveries WHERE target = $1 AND state = 'queued' AND last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1",
      [target],
    );
    const [dead] = await this.query<ErrorRow>("SELECT last_error, next_attempt_at FROM deliveries WHERE target = $1 AND state = 'dead' ORDER BY next_attempt_at DESC LIMIT 1", [target]);
    return targetActivity(sent?.at, [retrying, dead]);
  }

  requeue(ids: readonly string[], now: number): Promise<{ id: string; target: string }[]> {
    return this.query(
      `UPDATE deliveries SET state = 'queued', next_attempt_at = $1, created_at = $1
       WHERE id = ANY($2::text[]) AND state || '' = 'dead' RETURNING id, target`,
      [now, ids],
    );
  }

  async depthByTarget(): Promise<Map<string, number>> {
    const rows = await this.query<{ target: string; n: string }>("SELECT target, count(*) AS n FROM deliveries WHERE state = 'queued' GROUP BY target");
    return new Map(rows.map((row) => [row.target, Number(row.n)]));
  }

  /** One walk of the queued rows, as the depth alone took before. */
  async queueStats(now: number): Promise<Map<string, QueueStats>> {
    const rows = await this.query<{ target: string; n: string; waiting: string; oldest: string }>(
      `SELECT target, count(*) AS n, count(*) FILTER (WHERE next_attempt_at > $1) AS waiting, min(created_at) AS oldest
       FROM deliveries WHERE state = 'queued' GROUP BY target`,
      [now],
    );
    return new Map(rows.map((row) => [row.target, { queued: Number(row.n), waitingRetry: Number(row.waiting), oldestCreatedAt: Number(row.oldest) }]));
  }

  /** The relay's own tables (the database may hold others'). */
  async sizeBytes(): Promise<number> {
    const [row] = await this.query<{ bytes: string | null }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS bytes FROM pg_class c
       WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])`,
      [RELAY_TABLES],
    );
    return Number(row?.bytes ?? 0);
  }

  async queuedTargets(): Promise<string[]> {
    return (await this.query<{ target: string }>("SELECT DISTINCT target FROM deliveries WHERE state = 'queued'")).map((row) => row.target);
  }

  async due(target: string, now: number, limit: number, after?: QueueCursor): Promise<StoredDelivery[]> {
    const rows = after
      ? await this.query<DeliveryRow>(
          `SELECT * FROM deliveries WHERE target = $1 AND state = 'queued' AND next_attempt_at <= $2
             AND (next_attempt_at, id) > ($3, $4) ORDER BY next_attempt_at, id LIMIT $5`,
          [target, now, after.at, after.id, limit],
        )
      : await this.query<DeliveryRow>(
          `SELECT * FROM deliveries WHERE target = $1 AND state = 'queued' AND next_attempt_at <= $2
           ORDER BY next_attempt_at, id LIMIT $3`,
          [target, now, limit],
        );
    return rows.map(toDelivery);
  }

  async dueCount(target: string, now: number, cap: number): Promise<number> {
    const [row] = await this.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM deliveries WHERE target = $1 AND state = 'queued' AND next_attempt_at <= $2 LIMIT $3) due`,
      [target, now, cap],
    );
    return Number(row?.n ?? 0);
  }

  async nextDueAt(target: string): Promise<number | undefined> {
    const [row] = await this.query<{ at: string | null }>("SELECT min(next_attempt_at) AS at FROM deliveries WHERE target = $1 AND state = 'queued'", [target]);
    return row?.at == null ? undefined : Number(row.at);
  }

  async expedite(target: string, now: number): Promise<number> {
    const rows = await this.query("UPDATE deliveries SET next_attempt_at = $1 WHERE target = $2 AND state = 'queued' AND next_attempt_at > $1 RETURNING 1", [now, target]);
    return rows.length;
  }

  // "state || ''": look rows up by id; without statistics (a bulk write just happened) the
  // planner would otherwise walk the state index over the whole queue.
  async markSent(ids: readonly string[], now: number): Promise<string[]> {
    const rows = await this.query<{ id: string }>(
      `UPDATE deliveries SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL
       WHERE id = ANY($2::text[]) AND state || '' = 'queued' RETURNING id`,
      [now, ids],
    );
    return rows.map((row) => row.id);
  }

  async markRetry(ids: readonly string[], nextAttemptAt: number, error: string): Promise<void> {
    await this.query(
      `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
       WHERE id = ANY($3::text[]) AND state || '' = 'queued'`,
      [nextAttemptAt, error, ids],
    );
  }

  async markDead(ids: readonly string[], error: string): Promise<string[]> {
    const rows = await this.query<{ id: string }>(
      `UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = $1
       WHERE id = ANY($2::text[]) AND state || '' = 'queued' RETURNING id`,
      [error, ids],
    );
    return rows.map((row) => row.id);
  }

  async claim(target: string, holder: string, now: number, leaseMs: number): Promise<boolean> {
    const rows = await this.query(
      `INSERT INTO leases (target, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (target) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < $4
       RETURNING target`,
      [target, holder, now + leaseMs, now],
    );
    return rows.length > 0;
  }

  async release(targets: readonly string[], holder: string): Promise<void> {
    await this.query("DELETE FROM leases WHERE target = ANY($1::text[]) AND holder = $2", [targets, holder]);
  }

  takeSlot(key: string, now: number, rate: { spacingMs: number; max: number; perMs: number }): Promise<number> {
    return this.transaction(async (client) => {
      const state = await this.lockPace(client, key);
      const next = nextSlot(state, now, rate);
      await client.query("UPDATE pace SET recent = $2 WHERE key = $1", [key, next.state.recent]);
      return next.slot;
    });
  }

  cancelSlot(key: string, slot: number): Promise<void> {
    return this.transaction(async (client) => {
      const state = await this.lockPace(client, key);
      const recent = withoutSlot(state.recent, slot);
      if (recent !== state.recent) await client.query("UPDATE pace SET recent = $2 WHERE key = $1", [key, recent]);
    });
  }

  pauseKey(key: string, until: number): Promise<void> {
    return this.transaction(async (client) => {
      await this.lockPace(client, key);
      await client.query("UPDATE pace SET paused_until = GREATEST(paused_until, $2) WHERE key = $1", [key, until]);
    });
  }

  async pausedUntil(key: string): Promise<number | undefined> {
    const [row] = await this.query<{ paused_until: string }>("SELECT paused_until FROM pace WHERE key = $1", [key]);
    return row === undefined || Number(row.paused_until) === 0 ? undefined : Number(row.paused_until);
  }

  /** The key's row, locked until the transaction ends: replicas take slots one at a time. */
  private async lockPace(client: Client, key: string): Promise<{ recent: number[]; pausedUntil: number }> {
    await client.query("INSERT INTO pace (key, recent, paused_until) VALUES ($1, '{}', 0) ON CONFLICT (key) DO NOTHING", [key]);
    const { rows } = await client.query<{ recent: string[]; paused_until: string }>("SELECT recent, paused_until FROM pace WHERE key = $1 FOR UPDATE", [key]);
    const row = rows[0]!;
    return { recent: row.recent.map(Number), pausedUntil: Number(row.paused_until) };
  }

  purge(before: number, limit: number): Promise<number> {
    return this.transaction(async (client) => {
      const removed = await client.query(
        `DELETE FROM deliveries WHERE id IN (
           SELECT id FROM deliveries WHERE state IN ('sent', 'dead') AND created_at < $1 LIMIT $2)`,
        [before, limit],
      );
      await client.query(
        `DELETE FROM requests WHERE id IN (
           SELECT id FROM requests r WHERE created_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id) LIMIT $2)`,
        [before, limit],
      );
      await PostgresActionLog.purge(client, before, limit);
      return removed.rowCount ?? 0;
    });
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
