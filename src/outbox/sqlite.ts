// The Store on SQLite: a file under the data dir, for one process. WAL keeps writes cheap
// and readers unblocked; synchronous=FULL makes a row answered 2xx survive power loss;
// the exclusive lock keeps a second process off the same data dir.
import { orderedId } from "./ids.js";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Accepted, AcceptRequest, BrowseQuery, QueueCursor, QueueStats, RequestStatus, Store, StoredDelivery, TargetActivity } from "./contract.js";
import { ACTION_TABLES, SqliteActionLog } from "./sqlite-actions.js";
import { browseFilter, nextSlot, requestState, SENT_INDEX, targetActivity, toDelivery, withoutSlot, type DeliveryRow, type PaceState } from "./rows.js";

/** Versioned schema; version 1 is the layout of the first release, so old files upgrade in place. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS requests (
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
   CREATE INDEX IF NOT EXISTS deliveries_request ON deliveries (request_id);
   CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, created_at);`,
  `ALTER TABLE requests ADD COLUMN idempotency_until INTEGER;
   DROP INDEX IF EXISTS deliveries_due;
   DROP INDEX IF EXISTS deliveries_fifo;
   DROP INDEX IF EXISTS deliveries_sent;
   CREATE INDEX deliveries_queue ON deliveries (target, state, next_attempt_at, id);
   CREATE TABLE pace (key TEXT PRIMARY KEY, recent TEXT NOT NULL, paused_until INTEGER NOT NULL);
   CREATE TABLE leases (target TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);`,
  `CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);`,
  ACTION_TABLES,
  SENT_INDEX,
  // The oldest queued row of a target in one index step, for the queue-age gauge.
  `CREATE INDEX deliveries_queued_age ON deliveries (target, created_at) WHERE state = 'queued';`,
];

/** A second process on the same data dir: refused with a clear reason. */
export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
}

const ids = (list: readonly string[]) => JSON.stringify(list);

export class SqliteStore implements Store {
  readonly driver = "sqlite";
  private readonly db: Database.Database;
  private readonly sql;
  readonly actions: SqliteActionLog;
  /**
   * Queued rows per target, counted once at open and kept by every write: one process
   * owns the file, so the count is exact, and a scrape costs nothing at any backlog.
   */
  private readonly depth = new Map<string, number>();
  private pingFailed = false;

  private constructor(private readonly file: string) {
    const created = !existsSync(file);
    this.db = new Database(file, { timeout: 1000 });
    // Only this process may read or write the outbox; rows hold message text.
    if (created) chmodSync(file, 0o600);
    try {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      this.db.pragma("foreign_keys = ON");
      // Held from the first write until close: a second relay on this dir cannot open it.
      this.db.pragma("locking_mode = EXCLUSIVE");
      this.migrate();
      this.db.exec("BEGIN IMMEDIATE; COMMIT");
    } catch (err) {
      this.db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") {
        throw new DataDirInUseError(`another wecom-relay process is using ${file}: one process per data dir (use storage.driver: postgres for replicas)`);
      }
      throw err;
    }
    const db = this.db;
    this.sql = {
      insertRequest: db.prepare("INSERT INTO requests (id, idempotency_key, idempotency_until, created_at) VALUES (?, ?, ?, ?)"),
      requestByKey: db.prepare("SELECT id, idempotency_until FROM requests WHERE idempotency_key = ?"),
      forgetKey: db.prepare("UPDATE requests SET idempotency_key = NULL WHERE idempotency_key = ?"),
      requestById: db.prepare("SELECT id, created_at FROM requests WHERE id = ?"),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (id, request_id, target, message, state, attempts, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)`,
      ),
      byId: db.prepare("SELECT * FROM deliveries WHERE id = ?"),
      byRequest: db.prepare("SELECT * FROM deliveries WHERE request_id = ? ORDER BY created_at, rowid"),
      due: db.prepare(
        `SELECT * FROM deliveries WHERE target = ? AND state = 'queued' AND next_attempt_at <= ?
         ORDER BY next_attempt_at, id LIMIT ?`,
      ),
      dueAfter: db.prepare(
        `SELECT * FROM deliveries WHERE target = ? AND state = 'queued' AND next_attempt_at <= ?
           AND (next_attempt_at, id) > (?, ?)
         ORDER BY next_attempt_at, id LIMIT ?`,
      ),
      expedite: db.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE target = ? AND state = 'queued' AND next_attempt_at > ?"),
      dueCount: db
        .prepare(
          `SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE target = ? AND state = 'queued' AND next_attempt_at <= ? LIMIT ?)`,
        )
        .pluck(),
      nextDueAt: db.prepare("SELECT min(next_attempt_at) FROM deliveries WHERE target = ? AND state = 'queued'").pluck(),
      depth: db.prepare("SELECT target, count(*) AS n FROM deliveries WHERE state = 'queued' GROUP BY target"),
      waitingRetry: db.prepare("SELECT count(*) FROM deliveries WHERE target = ? AND state = 'queued' AND next_attempt_at > ?").pluck(),
      oldestQueued: db.prepare("SELECT min(created_at) FROM deliveries WHERE target = ? AND state = 'queued'").pluck(),
      // "+state": look rows up by id, never walk the queue (the state index would).
      markSent: db.prepare(
        `UPDATE deliveries SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL
         WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'queued' RETURNING id, target`,
      ),
      markRetry: db.prepare(
        `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
         WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'queued'`,
      ),
      markDead: db.prepare(
        `UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?
         WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'queued' RETURNING id, target`,
      ),
      requeue: db.prepare(
        `UPDATE deliveries SET state = 'queued', next_attempt_at = ?, created_at = ?
         WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'dead' RETURNING id, target`,
      ),
      dead: db.prepare("SELECT * FROM deliveries WHERE state = 'dead' ORDER BY created_at DESC LIMIT ?"),
      deadOf: db.prepare("SELECT * FROM deliveries WHERE target = ? AND state = 'dead' ORDER BY next_attempt_at DESC LIMIT ?"),
      lastSent: db.prepare("SELECT max(sent_at) FROM deliveries WHERE target = ? AND state = 'sent'").pluck(),
      lastRetrying: db.prepare(
        "SELECT last_error, next_attempt_at FROM deliveries WHERE target = ? AND state = 'queued' AND last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1",
      ),
      lastDead: db.prepare("SELECT last_error, next_attempt_at FROM deliveries WHERE target = ? AND state = 'dead' ORDER BY next_attempt_at DESC LIMIT 1"),
      purge: db.prepare(
        `DELETE FROM deliveries WHERE rowid IN (
           SELECT rowid FROM deliveries WHERE state IN ('sent', 'dead') AND created_at < ? LIMIT ?)`,
      ),
      purgeRequests: db.prepare(
        `DELETE FROM requests WHERE rowid IN (
           SELECT rowid FROM requests r WHERE created_at < ?
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id) LIMIT ?)`,
      ),
      claim: db.prepare(
        `INSERT INTO leases (target, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (target) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < ?`,
      ),
      release: db.prepare("DELETE FROM leases WHERE target IN (SELECT value FROM json_each(?)) AND holder = ?"),
      pace: db.prepare("SELECT recent, paused_until FROM pace WHERE key = ?"),
      health: db.prepare("INSERT INTO health (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"),
      savePace: db.prepare(
        `INSERT INTO pace (key, recent, paused_until) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET recent = excluded.recent, paused_until = excluded.paused_until`,
      ),
    };
    for (const row of this.sql.depth.all() as { target: string; n: number }[]) this.depth.set(row.target, row.n);
    this.actions = new SqliteActionLog(db);
  }

  /** Opens (creating if needed) `<dataDir>/outbox.db`, refusing a dir another process holds. */
  static open(dataDir: string): SqliteStore {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return new SqliteStore(join(dataDir, "outbox.db"));
  }

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)");
    const applied = this.db.prepare("SELECT max(version) FROM schema_migrations").pluck().get() as number | null;
    // A file from before versioning has the first schema already.
    const legacy = applied === null && this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'deliveries'").get() !== undefined;
    MIGRATIONS.forEach((sql, index) => {
      const version = index + 1;
      if ((applied ?? (legacy ? 1 : 0)) >= version) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.prepare("INSERT INTO schema_migrations (version) VALUES (?)").run(version);
      })();
    });
    if (legacy) this.db.prepare("INSERT OR IGNORE INTO schema_migrations (version) VALUES (1)").run();
  }

  accept(requests: readonly AcceptRequest[], now: number): Promise<Accepted[]> {
    const accepted = this.db.transaction(() => requests.map((request) => this.insertRequest(request, now)))();
    // Counted once committed.
    requests.forEach((request, i) => {
      if (!accepted[i]!.duplicate) this.count(request.messages.map((message) => message.target), 1);
    });
    return Promise.resolve(accepted);
  }

  private insertRequest(request: AcceptRequest, now: number): Accepted {
    const key = request.idempotencyKey ?? null;
    if (key !== null) {
      const existing = this.sql.requestByKey.get(key) as { id: string; idempotency_until: number | null } | undefined;
      if (existing !== undefined) {
        if (existing.idempotency_until === null || existing.idempotency_until > now) {
          return { requestId: existing.id, deliveryIds: [], duplicate: true };
        }
        this.sql.forgetKey.run(key); // the key's window passed: this is a new request
      }
    }
    const requestId = orderedId();
    this.sql.insertRequest.run(requestId, key, request.idempotencyUntil ?? null, now);
    const deliveryIds = request.messages.map((message) => {
      const id = orderedId();
      this.sql.insertDelivery.run(id, requestId, message.target, JSON.stringify(message), now, now);
      return id;
    });
    if (request.groups) this.actions.saveGroups(request.groups, now);
    return { requestId, deliveryIds, duplicate: false };
  }

  get(id: string): Promise<StoredDelivery | undefined> {
    const row = this.sql.byId.get(id) as DeliveryRow | undefined;
    return Promise.resolve(row && toDelivery(row));
  }

  async requestStatus(id: string): Promise<RequestStatus | undefined> {
    const request = this.sql.requestById.get(id) as { id: string } | undefined;
    const requestId = request?.id ?? (await this.get(id))?.requestId;
    if (requestId === undefined) return undefined;
    const deliveries = (this.sql.byRequest.all(requestId) as DeliveryRow[]).map(toDelivery);
    const created = (this.sql.requestById.get(requestId) as { created_at: number }).created_at;
    return { id: requestId, state: requestState(deliveries), createdAt: created, deliveries };
  }

  listDead(limit: number, target?: string): Promise<StoredDelivery[]> {
    const rows = target === undefined ? this.sql.dead.all(limit) : this.sql.deadOf.all(target, limit);
    return Promise.resolve((rows as DeliveryRow[]).map(toDelivery));
  }

  /** Statements per filter combination, prepared once. */
  private readonly browseStatements = new Map<string, Database.Statement>();

  browse(query: BrowseQuery): Promise<StoredDelivery[]> {
    const { where, args } = browseFilter(query, () => "?");
    const sql = `SELECT * FROM deliveries ${where} ORDER BY id DESC LIMIT ?`;
    let statement = this.browseStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.browseStatements.set(sql, statement);
    }
    return Promise.resolve((statement.all(...args, query.limit) as DeliveryRow[]).map(toDelivery));
  }

  targetActivity(target: string): Promise<TargetActivity> {
    type ErrorRow = { last_error: string | null; next_attempt_at: number } | undefined;
    return Promise.resolve(
      targetActivity(this.sql.lastSent.get(target) as number | null, [this.sql.lastRetrying.get(target) as ErrorRow, this.sql.lastDead.get(target) as ErrorRow]),
    );
  }

  requeue(list: readonly string[], now: number): Promise<{ id: string; target: string }[]> {
    const requeued = this.sql.requeue.all(now, now, ids(list)) as { id: string; target: string }[];
    this.count(requeued.map((row) => row.target), 1);
    return Promise.resolve(requeued);
  }

  depthByTarget(): Promise<Map<string, number>> {
    return Promise.resolve(new Map([...this.depth].filter(([, n]) => n > 0)));
  }

  queueStats(now: number): Promise<Map<string, QueueStats>> {
    const stats = new Map<string, QueueStats>();
    for (const [target, queued] of this.depth) {
      if (queued <= 0) continue;
      stats.set(target, {
        queued,
        waitingRetry: this.sql.waitingRetry.get(target, now) as number,
        oldestCreatedAt: this.sql.oldestQueued.get(target) as number,
      });
    }
    return Promise.resolve(stats);
  }

  sizeBytes(): Promise<number> {
    const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);
    return Promise.resolve(size(this.file) + size(`${this.file}-wal`));
  }

  queuedTargets(): Promise<string[]> {
    return Promise.resolve([...this.depth].flatMap(([target, n]) => (n > 0 ? [target] : [])));
  }

  private count(targets: Iterable<string>, step: 1 | -1): void {
    for (const target of targets) this.depth.set(target, (this.depth.get(target) ?? 0) + step);
  }

  due(target: string, now: number, limit: number, after?: QueueCursor): Promise<StoredDelivery[]> {
    const rows = after
      ? this.sql.dueAfter.all(target, now, after.at, after.id, limit)
      : this.sql.due.all(target, now, limit);
    return Promise.resolve((rows as DeliveryRow[]).map(toDelivery));
  }

  dueCount(target: string, now: number, cap: number): Promise<number> {
    return Promise.resolve(this.sql.dueCount.get(target, now, cap) as number);
  }

  nextDueAt(target: string): Promise<number | undefined> {
    return Promise.resolve((this.sql.nextDueAt.get(target) as number | null) ?? undefined);
  }

  expedite(target: string, now: number): Promise<number> {
    return Promise.resolve(this.sql.expedite.run(now, target, now).changes);
  }

  markSent(list: readonly string[], now: number): Promise<string[]> {
    const marked = this.sql.markSent.all(now, ids(list)) as { id: string; target: string }[];
    this.count(marked.map((row) => row.target), -1);
    return Promise.resolve(marked.map((row) => row.id));
  }

  markRetry(list: readonly string[], nextAttemptAt: number, error: string): Promise<void> {
    this.sql.markRetry.run(nextAttemptAt, error, ids(list));
    return Promise.resolve();
  }

  markDead(list: readonly string[], error: string): Promise<string[]> {
    const marked = this.sql.markDead.all(error, ids(list)) as { id: string; target: string }[];
    this.count(marked.map((row) => row.target), -1);
    return Promise.resolve(marked.map((row) => row.id));
  }

  claim(target: string, holder: string, now: number, leaseMs: number): Promise<boolean> {
    return Promise.resolve(this.unsynced(() => this.sql.claim.run(target, holder, now + leaseMs, now).changes > 0));
  }

  release(targets: readonly string[], holder: string): Promise<void> {
    this.unsynced(() => this.sql.release.run(ids(targets), holder));
    return Promise.resolve();
  }

  takeSlot(key: string, now: number, rate: { spacingMs: number; max: number; perMs: number }): Promise<number> {
    return Promise.resolve(
      this.unsynced(() => {
        const { slot, state } = nextSlot(this.paceState(key), now, rate);
        this.sql.savePace.run(key, JSON.stringify(state.recent), state.pausedUntil);
        return slot;
      }),
    );
  }

  cancelSlot(key: string, slot: number): Promise<void> {
    this.unsynced(() => {
      const state = this.paceState(key);
      const recent = withoutSlot(state.recent, slot);
      if (recent !== state.recent) this.sql.savePace.run(key, JSON.stringify(recent), state.pausedUntil);
    });
    return Promise.resolve();
  }

  pauseKey(key: string, until: number): Promise<void> {
    this.unsynced(() => {
      const state = this.paceState(key);
      this.sql.savePace.run(key, JSON.stringify(state.recent), Math.max(state.pausedUntil, until));
    });
    return Promise.resolve();
  }

  /**
   * Pace and lease bookkeeping in one transaction without its own disk sync: the next
   * synced commit carries it. Losing it to a power cut costs at most one pace slot; a
   * row's state is always synced.
   */
  private unsynced<T>(work: () => T): T {
    this.db.pragma("synchronous = NORMAL");
    try {
      return this.db.transaction(work)();
    } finally {
      this.db.pragma("synchronous = FULL");
    }
  }

  pausedUntil(key: string): Promise<number | undefined> {
    const row = this.sql.pace.get(key) as { paused_until: number } | undefined;
    return Promise.resolve(row?.paused_until || undefined);
  }

  private paceState(key: string): PaceState {
    const row = this.sql.pace.get(key) as { recent: string; paused_until: number } | undefined;
    return row ? { recent: JSON.parse(row.recent) as number[], pausedUntil: row.paused_until } : { recent: [], pausedUntil: 0 };
  }

  purge(before: number, limit: number): Promise<number> {
    return Promise.resolve(
      this.db.transaction(() => {
        const removed = this.sql.purge.run(before, limit).changes;
        this.sql.purgeRequests.run(before, limit);
        this.actions.purge(before, limit);
        return removed;
      })(),
    );
  }

  /**
   * Proves the outbox can be written (a full disk fails here, as a webhook's write would).
   * After a failure, the WAL is checkpointed and truncated so the space it took comes back.
   */
  ping(): Promise<void> {
    try {
      this.unsynced(() => this.sql.health.run(Date.now()));
    } catch (err) {
      this.pingFailed = true;
      throw err;
    }
    if (this.pingFailed) {
      this.pingFailed = false;
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
