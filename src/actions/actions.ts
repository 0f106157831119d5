// Acting on alert groups from WeCom: a card button (acknowledge, silence), the signed
// action page (silence, unsilence), and the relay itself (a resolved group's cards). Every
// action is recorded in the action log first (so a retried callback acts once, on any
// replica), then done, then counted and logged; the card is updated last.
import type { Channel } from "../channels/channel.js";
import type { Config } from "../config/schema.js";
import { logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { ActionLog, ActionName, ActionRecord, ActionVia } from "../outbox/action-log.js";
import { orderedId } from "../outbox/ids.js";
import { formatDate } from "../render/helpers.js";
import { alertCard, buttonAction } from "./card.js";
import type { CardClick } from "./card-click.js";
import type { ActionGroup } from "./group.js";
import type { GroupView } from "./pages.js";
import { alertmanagerSilences, grafanaSilences, type SilencesApi } from "./silences.js";

/** Silence lengths when the config names none. */
export const DEFAULT_SILENCE_FOR: readonly { label: string; ms: number }[] = [
  { label: "1h", ms: 3_600_000 },
  { label: "4h", ms: 4 * 3_600_000 },
  { label: "24h", ms: 24 * 3_600_000 },
];

const UNTIL_FORMAT = "MM-DD HH:mm Z";
/** Who the relay's own actions (a resolved group's cards) are recorded as. */
const RELAY_ACTOR = "wecom-relay";

export interface ActionsDeps {
  log: ActionLog;
  metrics: Metrics;
  now(): number;
  /** The config in force now (reload swaps it). */
  config(): Config;
  /** The channel of a target in the config in force now. */
  channel(target: string): Channel | undefined;
}

/** What a page action came to: the words for the result page, and its HTTP status. */
export type PageOutcome = { ok: true; title: string; message: string } | { ok: false; status: number; title: string; message: string };

export interface PageRequest {
  action: "silence" | "unsilence";
  /** A silence length's label, for a silence. */
  length?: string;
  by: string;
  note?: string;
  /** One per page load: a form sent twice (a double tap) acts once. */
  formToken: string;
}

export class Actions {
  /** One client per config: a reload with new credentials gets new clients. */
  private readonly clients = new WeakMap<Config, Partial<Record<ActionGroup["source"], SilencesApi>>>();

  constructor(private readonly deps: ActionsDeps) {}

  silenceLengths(): readonly { label: string; ms: number }[] {
    return this.deps.config().actions?.silence_for ?? DEFAULT_SILENCE_FOR;
  }

  /** Where a group's silences go; undefined when the config names no API for its source. */
  silences(source: ActionGroup["source"]): SilencesApi | undefined {
    const config = this.deps.config();
    let clients = this.clients.get(config);
    if (clients === undefined) {
      clients = {
        ...(config.alertmanager && { alertmanager: alertmanagerSilences(config.alertmanager) }),
        ...(config.grafana && { grafana: grafanaSilences(config.grafana) }),
      };
      this.clients.set(config, clients);
    }
    return clients[source];
  }

  /** A card button was clicked (a decrypted template_card_event from `target`'s callback). */
  async click(target: string, click: CardClick): Promise<void> {
    const card = await this.deps.log.card(click.taskId);
    const button = buttonAction(click.eventKey);
    const stored = card && card.target === target ? await this.deps.log.group(card.group) : undefined;
    if (!card || !button || !stored) {
      this.count(button?.action ?? "ack", "refused");
      logger.warn("card click not acted on: unknown card, button or group", { target, task: click.taskId, button: click.eventKey });
      return;
    }
    const { group } = stored;
    const id = orderedId(this.deps.now());
    // WeCom retries a callback it got no quick answer to: the same user and CreateTime is the same click.
    const key = `click:${target}:${click.user}:${click.createTime}:${click.taskId}:${click.eventKey}`;
    const begun = await this.deps.log.begin({ id, group: group.id, action: button.action, via: "card", by: click.user, at: this.deps.now() }, key);
    if (!begun) {
      logger.info("repeated card click ignored", { target, task: click.taskId, user: click.user });
      return;
    }
    const update = (change: { replaceName?: string; card?: Record<string, unknown> }) =>
      this.updateCard(target, { responseCode: click.responseCode, ...change }, click.taskId);

    if (group.status === "resolved") {
      await this.finish(id, button.action, "card", click.user, { result: "refused", detail: "the group has resolved" });
      await update({ replaceName: "✅ Resolved" });
      return;
    }
    if (button.action === "ack") {
      await this.finish(id, "ack", "card", click.user, { result: "ok" });
      const built = alertCard(group, { taskId: click.taskId, silenceFor: this.silenceLengths().map((length) => length.label), note: `Acked by ${click.user}`, withAck: false, ...(group.link !== undefined && { url: group.link }) });
      await update(built.ok ? { card: built.card } : { replaceName: `Acked by ${click.user}` });
      return;
    }
    const length = this.silenceLengths().find((candidate) => candidate.label === button.length);
    if (!length) {
      await this.finish(id, "silence", "card", click.user, { result: "refused", detail: `no silence length ${button.length} in the config` });
      return;
    }
    const silenced = await this.silence(group, length.ms, click.user, "card button");
    await this.finish(id, "silence", "card", click.user, silenced);
    if (silenced.result === "ok") await update({ replaceName: `Silenced by ${click.user} until ${this.time(silenced.until!)}` });
  }

  /** The signed action page's form: the link was checked by the caller. */
  async fromPage(groupId: string, request: PageRequest): Promise<PageOutcome> {
    const stored = await this.deps.log.group(groupId);
    if (!stored) return { ok: false, status: 404, title: "Unknown alert group", message: "This alert group is no longer known to the relay." };
    const { group } = stored;
    if (group.status === "resolved") return { ok: false, status: 410, title: "Resolved", message: "This alert group has resolved; there is nothing to silence." };
    const now = this.deps.now();
    const id = orderedId(now);
    const by = request.by;
    const begin = (action: ActionName, extra: Partial<ActionRecord> = {}) =>
      this.deps.log.begin({ id, group: groupId, action, via: "link", by, at: now, ...extra }, `page:${groupId}:${request.formToken}:${action}`);

    if (request.action === "unsilence") {
      const active = await this.deps.log.activeSilence(groupId, now);
      if (!active?.silenceId) return { ok: false, status: 409, title: "Not silenced", message: "No silence created through the relay is in force for this group." };
      if (!(await begin("unsilence", { silenceId: active.silenceId }))) return { ok: true, title: "Unsilenced", message: "This was already done." };
      const api = this.silences(group.source);
      const expired = api ? await api.expire(active.silenceId) : { ok: false as const, error: `no API configured for ${group.source} silences` };
      const outcome = expired.ok ? { result: "ok" as const } : { result: "failed" as const, detail: expired.error };
      await this.finish(id, "unsilence", "link", by, outcome);
      return expired.ok
        ? { ok: true, title: "Unsilenced", message: `The silence is expired; the group's alerts notify again.` }
        : { ok: false, status: 502, title: "Not unsilenced", message: `The silence could not be expired: ${expired.error}` };
    }

    const length = this.silenceLengths().find((candidate) => candidate.label === request.length);
    if (!length) return { ok: false, status: 400, title: "Unknown length", message: "Choose one of the silence lengths offered." };
    if (!(await begin("silence"))) return { ok: true, title: "Silenced", message: "This was already done." };
    const silenced = await this.silence(group, length.ms, by, "action page", request.note);
    await this.finish(id, "silence", "link", by, silenced);
    return silenced.result === "ok"
      ? { ok: true, title: "Silenced", message: `Silenced by ${by} until ${this.time(silenced.until!)}.` }
      : { ok: false, status: 502, title: "Not silenced", message: `The silence could not be created: ${silenced.detail}` };
  }

  /** Groups that resolved: their cards say so (each with the send's own response_code). */
  async resolved(groups: readonly ActionGroup[]): Promise<void> {
    for (const group of groups) {
      if (group.status !== "resolved") continue;
      for (const card of await this.deps.log.cardsOf(group.id)) {
        if (card.codeUsed || !(await this.deps.log.useCardCode(card.taskId))) continue;
        const id = orderedId(this.deps.now());
        await this.deps.log.begin({ id, group: group.id, action: "resolve", via: "relay", by: RELAY_ACTOR, at: this.deps.now() });
        const result = await this.updateCard(card.target, { responseCode: card.responseCode, replaceName: "✅ Resolved" }, card.taskId);
        await this.finish(id, "resolve", "relay", RELAY_ACTOR, result.kind === "ok" ? { result: "ok" } : { result: "failed", detail: result.error });
      }
    }
  }

  list(limit: number, group?: string): Promise<ActionRecord[]> {
    return this.deps.log.list(limit, group);
  }

  /** What the action page shows for a group; undefined when the group is not known. */
  async view(groupId: string): Promise<GroupView | undefined> {
    const stored = await this.deps.log.group(groupId);
    if (!stored) return undefined;
    const { group } = stored;
    const silence = await this.deps.log.activeSilence(groupId, this.deps.now());
    return {
      groupId,
      status: group.status,
      title: group.title,
      alerts: group.alerts,
      matchers: group.matchers,
      ...(silence?.silenceId !== undefined && { silence: { id: silence.silenceId, createdBy: silence.by, endsAt: this.time(silence.until!) } }),
    };
  }

  private async silence(group: ActionGroup, ms: number, by: string, from: string, note?: string): Promise<{ result: "ok" | "failed"; silenceId?: string; until?: number; detail?: string }> {
    const api = this.silences(group.source);
    if (!api) return { result: "failed", detail: `no ${group.source === "grafana" ? "grafana" : "alertmanager"} API is configured to create silences in` };
    const startsAt = this.deps.now();
    const until = startsAt + ms;
    const created = await api.create({
      matchers: Object.entries(group.matchers).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
      startsAt: new Date(startsAt),
      endsAt: new Date(until),
      createdBy: by,
      comment: `Silenced from WeCom (${from}) through wecom-relay${note ? `: ${note}` : ""}`,
    });
    return created.ok ? { result: "ok", silenceId: created.id, until } : { result: "failed", detail: created.error };
  }

  private async finish(id: string, action: ActionName, via: ActionVia, by: string, outcome: { result: "ok" | "failed" | "refused"; silenceId?: string; until?: number; detail?: string }): Promise<void> {
    await this.deps.log.finish(id, outcome);
    this.count(action, outcome.result);
    const fields = { action, via, by, result: outcome.result, ...(outcome.silenceId !== undefined && { silence: outcome.silenceId }), ...(outcome.detail !== undefined && { detail: outcome.detail }) };
    if (outcome.result === "ok") logger.info("alert group action", fields);
    else logger.warn("alert group action not done", fields);
  }

  private count(action: ActionName, result: "ok" | "failed" | "refused"): void {
    this.deps.metrics.actions.inc({ action, result });
  }

  private async updateCard(target: string, update: { responseCode: string; replaceName?: string; card?: Record<string, unknown> }, task: string) {
    const channel = this.deps.channel(target);
    if (!channel?.updateCard) return { kind: "permanent" as const, error: `target ${target} cannot update cards` };
    const result = await channel.updateCard(update);
    if (result.kind !== "ok") logger.warn("card not updated", { target, task, error: result.error });
    return result;
  }

  private time(epochMs: number): string {
    return formatDate(epochMs, UNTIL_FORMAT, this.deps.config().templates.timezone);
  }
}
