// The action log on PostgreSQL (see action-log.ts). `saveGroups` and `purge` run inside
// the store's transactions; the rest through its pool.
import type pg from "pg";
import type { ActionGroup } from "../actions/group.js";
import {
  stillSilenced,
  toActionRecord,
  toCardRecord,
  type ActionLog,
  type ActionOutcome,
  type ActionRecord,
  type ActionRow,
  type CardRecord,
  type CardRow,
  type StoredGroup,
} from "./action-log.js";

export const ACTION_TABLES = `
  CREATE TABLE action_groups (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL, updated_at BIGINT NOT NULL);
  CREATE INDEX action_groups_updated ON action_groups (updated_at);
  CREATE TABLE cards (task_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, target TEXT NOT NULL, response_code TEXT NOT NULL,
    code_used BOOLEAN NOT NULL DEFAULT false, sent_at BIGINT NOT NULL);
  CREATE INDEX cards_group ON cards (group_id);
  CREATE TABLE actions (id TEXT COLLATE "C" PRIMARY KEY, dedup_key TEXT UNIQUE, group_id TEXT NOT NULL, action TEXT NOT NULL,
    via TEXT NOT NULL, by_user TEXT NOT NULL, at BIGINT NOT NULL, result TEXT NOT NULL,
    silence_id TEXT, until BIGINT, detail TEXT);
  CREATE INDEX actions_group ON actions (group_id, at);
  CREATE INDEX actions_at ON actions (at);`;

type Query = <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => Promise<R[]>;

export class PostgresActionLog implements ActionLog {
  constructor(private readonly query: Query) {}

  /** Inside the caller's transaction: the groups of an accepted request. */
  static async saveGroups(client: pg.PoolClient, groups: readonly ActionGroup[], now: number): Promise<void> {
    for (const group of groups) {
      await client.query(
        `INSERT INTO action_groups (id, status, body, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body, updated_at = excluded.updated_at
         WHERE excluded.updated_at >= action_groups.updated_at`,
        [group.id, group.status, JSON.stringify(group), now],
      );
    }
  }

  /** Inside the caller's transaction: what is older than `before`, `limit` rows a table. */
  static async purge(client: pg.PoolClient, before: number, limit: number): Promise<void> {
    await client.query("DELETE FROM action_groups WHERE id IN (SELECT id FROM action_groups WHERE updated_at < $1 LIMIT $2)", [before, limit]);
    await client.query("DELETE FROM cards WHERE task_id IN (SELECT task_id FROM cards WHERE sent_at < $1 LIMIT $2)", [before, limit]);
    await client.query("DELETE FROM actions WHERE id IN (SELECT id FROM actions WHERE at < $1 LIMIT $2)", [before, limit]);
  }

  async group(id: string): Promise<StoredGroup | undefined> {
    const [row] = await this.query<{ body: string; updated_at: string }>("SELECT body, updated_at FROM action_groups WHERE id = $1", [id]);
    return row && { group: JSON.parse(row.body) as ActionGroup, updatedAt: Number(row.updated_at) };
  }

  async saveCard(card: Omit<CardRecord, "codeUsed">): Promise<void> {
    await this.query(
      `INSERT INTO cards (task_id, group_id, target, response_code, code_used, sent_at) VALUES ($1, $2, $3, $4, false, $5)
       ON CONFLICT (task_id) DO UPDATE SET response_code = excluded.response_code, code_used = false, sent_at = excluded.sent_at`,
      [card.taskId, card.group, card.target, card.responseCode, card.sentAt],
    );
  }

  async card(taskId: string): Promise<CardRecord | undefined> {
    const [row] = await this.query<CardRow>("SELECT * FROM cards WHERE task_id = $1", [taskId]);
    return row && toCardRecord(row);
  }

  async cardsOf(group: string): Promise<CardRecord[]> {
    return (await this.query<CardRow>("SELECT * FROM cards WHERE group_id = $1 ORDER BY sent_at", [group])).map(toCardRecord);
  }

  async useCardCode(taskId: string): Promise<boolean> {
    const rows = await this.query("UPDATE cards SET code_used = true WHERE task_id = $1 AND NOT code_used RETURNING task_id", [taskId]);
    return rows.length === 1;
  }

  async begin(record: Omit<ActionRecord, "result">, key?: string): Promise<boolean> {
    const rows = await this.query(
      `INSERT INTO actions (id, dedup_key, group_id, action, via, by_user, at, result, silence_id, until, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`,
      [record.id, key ?? null, record.group, record.action, record.via, record.by, record.at, record.silenceId ?? null, record.until ?? null, record.detail ?? null],
    );
    return rows.length === 1;
  }

  async finish(id: string, outcome: ActionOutcome): Promise<void> {
    await this.query(
      "UPDATE actions SET result = $1, silence_id = coalesce($2, silence_id), until = coalesce($3, until), detail = coalesce($4, detail) WHERE id = $5",
      [outcome.result, outcome.silenceId ?? null, outcome.until ?? null, outcome.detail ?? null, id],
    );
  }

  async list(limit: number, group?: string): Promise<ActionRecord[]> {
    const rows =
      group === undefined
        ? await this.query<ActionRow>("SELECT * FROM actions ORDER BY at DESC, id DESC LIMIT $1", [limit])
        : await this.query<ActionRow>("SELECT * FROM actions WHERE group_id = $1 ORDER BY at DESC, id DESC LIMIT $2", [group, limit]);
    return rows.map(toActionRecord);
  }

  async activeSilence(group: string, now: number): Promise<ActionRecord | undefined> {
    const [row] = await this.query<ActionRow>(
      "SELECT * FROM actions WHERE group_id = $1 AND action = 'silence' AND result = 'ok' ORDER BY at DESC, id DESC LIMIT 1",
      [group],
    );
    const silence = row && toActionRecord(row);
    const unsilenced =
      silence !== undefined &&
      (await this.query("SELECT 1 FROM actions WHERE group_id = $1 AND action = 'unsilence' AND result = 'ok' AND at >= $2 LIMIT 1", [group, silence.at])).length > 0;
    return stillSilenced(silence, unsilenced, now);
  }
}
