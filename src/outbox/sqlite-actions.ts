// The action log on SQLite (see action-log.ts). Statements run inside the store's own
// connection; `saveGroups` runs inside the accept transaction.
import type Database from "better-sqlite3";
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
  CREATE TABLE action_groups (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE INDEX action_groups_updated ON action_groups (updated_at);
  CREATE TABLE cards (task_id TEXT PRIMARY KEY, group_id TEXT NOT NULL, target TEXT NOT NULL, response_code TEXT NOT NULL,
    code_used INTEGER NOT NULL DEFAULT 0, sent_at INTEGER NOT NULL);
  CREATE INDEX cards_group ON cards (group_id);
  CREATE TABLE actions (id TEXT PRIMARY KEY, dedup_key TEXT UNIQUE, group_id TEXT NOT NULL, action TEXT NOT NULL,
    via TEXT NOT NULL, by_user TEXT NOT NULL, at INTEGER NOT NULL, result TEXT NOT NULL,
    silence_id TEXT, until INTEGER, detail TEXT);
  CREATE INDEX actions_group ON actions (group_id, at);
  CREATE INDEX actions_at ON actions (at);`;

export class SqliteActionLog implements ActionLog {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      saveGroup: db.prepare(
        `INSERT INTO action_groups (id, status, body, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body, updated_at = excluded.updated_at
         WHERE excluded.updated_at >= action_groups.updated_at`,
      ),
      group: db.prepare("SELECT body, updated_at FROM action_groups WHERE id = ?"),
      saveCard: db.prepare("INSERT OR REPLACE INTO cards (task_id, group_id, target, response_code, code_used, sent_at) VALUES (?, ?, ?, ?, 0, ?)"),
      card: db.prepare("SELECT * FROM cards WHERE task_id = ?"),
      cardsOf: db.prepare("SELECT * FROM cards WHERE group_id = ? ORDER BY sent_at"),
      useCode: db.prepare("UPDATE cards SET code_used = 1 WHERE task_id = ? AND code_used = 0"),
      begin: db.prepare(
        `INSERT INTO actions (id, dedup_key, group_id, action, via, by_user, at, result, silence_id, until, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
      ),
      finish: db.prepare("UPDATE actions SET result = ?, silence_id = coalesce(?, silence_id), until = coalesce(?, until), detail = coalesce(?, detail) WHERE id = ?"),
      list: db.prepare("SELECT * FROM actions ORDER BY at DESC, id DESC LIMIT ?"),
      listGroup: db.prepare("SELECT * FROM actions WHERE group_id = ? ORDER BY at DESC, id DESC LIMIT ?"),
      lastSilence: db.prepare("SELECT * FROM actions WHERE group_id = ? AND action = 'silence' AND result = 'ok' ORDER BY at DESC, id DESC LIMIT 1"),
      unsilencedAfter: db.prepare("SELECT 1 FROM actions WHERE group_id = ? AND action = 'unsilence' AND result = 'ok' AND at >= ? LIMIT 1"),
      purgeGroups: db.prepare("DELETE FROM action_groups WHERE id IN (SELECT id FROM action_groups WHERE updated_at < ? LIMIT ?)"),
      purgeCards: db.prepare("DELETE FROM cards WHERE task_id IN (SELECT task_id FROM cards WHERE sent_at < ? LIMIT ?)"),
      purgeActions: db.prepare("DELETE FROM actions WHERE id IN (SELECT id FROM actions WHERE at < ? LIMIT ?)"),
    };
  }

  /** Inside the caller's transaction: the groups of an accepted request. */
  saveGroups(groups: readonly ActionGroup[], now: number): void {
    for (const group of groups) this.sql.saveGroup.run(group.id, group.status, JSON.stringify(group), now);
  }

  /** Inside the caller's transaction: what is older than `before`, `limit` rows a table. */
  purge(before: number, limit: number): void {
    this.sql.purgeGroups.run(before, limit);
    this.sql.purgeCards.run(before, limit);
    this.sql.purgeActions.run(before, limit);
  }

  group(id: string): Promise<StoredGroup | undefined> {
    const row = this.sql.group.get(id) as { body: string; updated_at: number } | undefined;
    return Promise.resolve(row && { group: JSON.parse(row.body) as ActionGroup, updatedAt: row.updated_at });
  }

  saveCard(card: Omit<CardRecord, "codeUsed">): Promise<void> {
    this.sql.saveCard.run(card.taskId, card.group, card.target, card.responseCode, card.sentAt);
    return Promise.resolve();
  }

  card(taskId: string): Promise<CardRecord | undefined> {
    const row = this.sql.card.get(taskId) as CardRow | undefined;
    return Promise.resolve(row && toCardRecord(row));
  }

  cardsOf(group: string): Promise<CardRecord[]> {
    return Promise.resolve((this.sql.cardsOf.all(group) as CardRow[]).map(toCardRecord));
  }

  useCardCode(taskId: string): Promise<boolean> {
    return Promise.resolve(this.sql.useCode.run(taskId).changes === 1);
  }

  begin(record: Omit<ActionRecord, "result">, key?: string): Promise<boolean> {
    const inserted = this.sql.begin.run(
      record.id,
      key ?? null,
      record.group,
      record.action,
      record.via,
      record.by,
      record.at,
      record.silenceId ?? null,
      record.until ?? null,
      record.detail ?? null,
    );
    return Promise.resolve(inserted.changes === 1);
  }

  finish(id: string, outcome: ActionOutcome): Promise<void> {
    this.sql.finish.run(outcome.result, outcome.silenceId ?? null, outcome.until ?? null, outcome.detail ?? null, id);
    return Promise.resolve();
  }

  list(limit: number, group?: string): Promise<ActionRecord[]> {
    const rows = (group === undefined ? this.sql.list.all(limit) : this.sql.listGroup.all(group, limit)) as ActionRow[];
    return Promise.resolve(rows.map(toActionRecord));
  }

  activeSilence(group: string, now: number): Promise<ActionRecord | undefined> {
    const row = this.sql.lastSilence.get(group) as ActionRow | undefined;
    const silence = row && toActionRecord(row);
    const unsilenced = silence !== undefined && this.sql.unsilencedAfter.get(group, silence.at) !== undefined;
    return Promise.resolve(stillSilenced(silence, unsilenced, now));
  }
}
