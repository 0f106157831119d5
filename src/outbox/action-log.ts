// What the relay remembers to act on alerts from WeCom: the alert groups it notified about,
// the cards it sent (with the response_code that lets it update them), and every action
// taken (acknowledge, silence, unsilence). Kept in the outbox database, so every replica
// sees the same; SQL for each driver lives beside this file.
import type { ActionGroup } from "../actions/group.js";

export interface StoredGroup {
  group: ActionGroup;
  updatedAt: number;
}

export interface CardRecord {
  taskId: string;
  group: string;
  target: string;
  /** From WeCom's answer to the send: updates this card once, within 72 h. */
  responseCode: string;
  sentAt: number;
  codeUsed: boolean;
}

export const ACTION_NAMES = ["ack", "silence", "unsilence", "resolve"] as const;
export type ActionName = (typeof ACTION_NAMES)[number];
/** Where an action came from: a card button, a signed link's page, the console, or the relay itself (a resolved group). */
export type ActionVia = "card" | "link" | "console" | "relay";
export const ACTION_RESULTS = ["ok", "failed", "refused"] as const;
export type ActionResult = (typeof ACTION_RESULTS)[number] | "pending";

export interface ActionRecord {
  id: string;
  group: string;
  action: ActionName;
  via: ActionVia;
  /** Who: the WeCom user id, or the name typed on the action page. */
  by: string;
  at: number;
  result: ActionResult;
  silenceId?: string;
  /** For a silence: when it ends (epoch ms). */
  until?: number;
  /** Why it failed, or the note given with it. */
  detail?: string;
}

export type ActionOutcome = Pick<ActionRecord, "result" | "silenceId" | "until" | "detail">;

export interface ActionLog {
  group(id: string): Promise<StoredGroup | undefined>;
  saveCard(card: Omit<CardRecord, "codeUsed">): Promise<void>;
  card(taskId: string): Promise<CardRecord | undefined>;
  cardsOf(group: string): Promise<CardRecord[]>;
  /** Marks a card's send response_code used; true when it was still unused (each code works once). */
  useCardCode(taskId: string): Promise<boolean>;
  /**
   * Records an action as pending. With a `key`, an action already begun under that key
   * (WeCom retrying the same callback, on any replica) makes this return false and write nothing.
   */
  begin(record: Omit<ActionRecord, "result">, key?: string): Promise<boolean>;
  finish(id: string, outcome: ActionOutcome): Promise<void>;
  /** Newest first; of one group when given. */
  list(limit: number, group?: string): Promise<ActionRecord[]>;
  /** The silence created through the relay for this group that is still in force at `now`. */
  activeSilence(group: string, now: number): Promise<ActionRecord | undefined>;
}

/** Row shape shared by both drivers (snake_case columns). */
export interface ActionRow {
  id: string;
  group_id: string;
  action: string;
  via: string;
  by_user: string;
  at: number | string;
  result: string;
  silence_id: string | null;
  until: number | string | null;
  detail: string | null;
}

export function toActionRecord(row: ActionRow): ActionRecord {
  return {
    id: row.id,
    group: row.group_id,
    action: row.action as ActionName,
    via: row.via as ActionVia,
    by: row.by_user,
    at: Number(row.at),
    result: row.result as ActionResult,
    ...(row.silence_id !== null && { silenceId: row.silence_id }),
    ...(row.until !== null && { until: Number(row.until) }),
    ...(row.detail !== null && { detail: row.detail }),
  };
}

export interface CardRow {
  task_id: string;
  group_id: string;
  target: string;
  response_code: string;
  sent_at: number | string;
  code_used: number | boolean;
}

export function toCardRecord(row: CardRow): CardRecord {
  return {
    taskId: row.task_id,
    group: row.group_id,
    target: row.target,
    responseCode: row.response_code,
    sentAt: Number(row.sent_at),
    codeUsed: Boolean(row.code_used),
  };
}

/** A silence still in force, unless an unsilence came after it. */
export function stillSilenced(silence: ActionRecord | undefined, unsilencedAfter: boolean, now: number): ActionRecord | undefined {
  if (silence === undefined || unsilencedAfter || (silence.until ?? 0) <= now) return undefined;
  return silence;
}
