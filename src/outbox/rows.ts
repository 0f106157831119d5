// Row shapes shared by both drivers, and the pure parts of their answers, so SQLite and
// PostgreSQL turn rows into values the same way.
import type { Message } from "../types.js";
import type { BrowseQuery, RequestStatus, StoredDelivery, TargetActivity } from "./contract.js";

export interface DeliveryRow {
  id: string;
  request_id: string;
  target: string;
  message: string;
  state: StoredDelivery["state"];
  attempts: number | string;
  created_at: number | string;
  next_attempt_at: number | string;
  last_error: string | null;
  sent_at: number | string | null;
}

/** PostgreSQL returns BIGINT as text; SQLite as a number. */
export function toDelivery(row: DeliveryRow): StoredDelivery {
  return {
    id: row.id,
    requestId: row.request_id,
    message: JSON.parse(row.message) as Message,
    state: row.state,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    nextAttemptAt: Number(row.next_attempt_at),
    ...(row.last_error !== null && { lastError: row.last_error }),
    ...(row.sent_at !== null && { sentAt: Number(row.sent_at) }),
  };
}

export function requestState(deliveries: readonly StoredDelivery[]): RequestStatus["state"] {
  if (deliveries.some((d) => d.state === "queued")) return "queued";
  return deliveries.some((d) => d.state === "dead") ? "failed" : "sent";
}

/** One pace key's recent slots and pause, as stored. */
export interface PaceState {
  recent: number[];
  pausedUntil: number;
}

/**
 * The next slot on a pace key: no sooner than `now`, the pause, `spacingMs` after the
 * last slot, and `perMs` after the max-th last slot (so sends made before a reload that
 * lowered the rate still count). Returns the slot and the state to store.
 */
export function nextSlot(
  state: PaceState,
  now: number,
  rate: { spacingMs: number; max: number; perMs: number },
): { slot: number; state: PaceState } {
  const { recent } = state;
  const last = recent.at(-1);
  const windowStart = recent.length >= rate.max ? recent[recent.length - rate.max] : undefined;
  const slot = Math.max(
    now,
    state.pausedUntil,
    last === undefined ? 0 : last + rate.spacingMs,
    windowStart === undefined ? 0 : windowStart + rate.perMs,
  );
  // Only slots inside the window can matter to a later one; that bounds the list.
  const kept = [...recent.filter((at) => at > slot - rate.perMs), slot];
  return { slot, state: { recent: kept, pausedUntil: state.pausedUntil } };
}

/** `recent` without one occurrence of `slot`; the same array when it is not there. */
export function withoutSlot(recent: number[], slot: number): number[] {
  const index = recent.lastIndexOf(slot);
  return index === -1 ? recent : [...recent.slice(0, index), ...recent.slice(index + 1)];
}

/** A target's last send is an index seek, not a scan of its week of history. */
export const SENT_INDEX = "CREATE INDEX deliveries_sent ON deliveries (target, state, sent_at);";

/** The WHERE clause of a browse page, with `placeholder(n)` for the driver's n-th parameter (1-based). */
export function browseFilter(query: BrowseQuery, placeholder: (n: number) => string): { where: string; args: unknown[] } {
  const conditions: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    args.push(value);
    conditions.push(sql.replace("?", placeholder(args.length)));
  };
  if (query.before !== undefined) add("id < ?", query.before);
  if (query.state !== undefined) add("state = ?", query.state);
  if (query.target !== undefined) add("target = ?", query.target);
  if (query.since !== undefined) add("created_at >= ?", query.since);
  if (query.until !== undefined) add("created_at < ?", query.until);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "", args };
}

/** The later of a retrying delivery's error and a dead one's. */
export function targetActivity(
  lastSentAt: number | string | null | undefined,
  errors: ReadonlyArray<{ last_error: string | null; next_attempt_at: number | string } | undefined>,
): TargetActivity {
  const latest = errors
    .filter((row): row is { last_error: string; next_attempt_at: number | string } => row !== undefined && row.last_error !== null)
    .map((row) => ({ error: row.last_error, at: Number(row.next_attempt_at) }))
    .sort((a, b) => b.at - a.at)[0];
  return {
    ...(lastSentAt !== null && lastSentAt !== undefined && { lastSentAt: Number(lastSentAt) }),
    ...(latest !== undefined && { lastError: latest }),
  };
}
