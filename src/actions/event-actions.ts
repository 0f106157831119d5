// What an alert notification carries to be acted on: its group (kept in the outbox), the
// signed link to its action page (template variable `actionsUrl`), and for `format: card`
// app routes, an interactive card. Decided at render time from the config in force.
import { randomBytes } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { RenderedCard } from "../render/render.js";
import type { Event } from "../types.js";
import { DEFAULT_SILENCE_FOR } from "./actions.js";
import { alertCard } from "./card.js";
import { actionGroupOf, type ActionGroup } from "./group.js";
import { signActionLink } from "./signed-link.js";

/** An action link works this long at most (and no longer once its group resolved). */
export const ACTION_LINK_TTL_MS = 24 * 3_600_000;

export interface EventActions {
  group: ActionGroup;
  actionsUrl?: string;
  /** A new card (with its own task id) per call: one per app target. */
  card?: () => RenderedCard | undefined;
}

/** True when the config acts on alerts at all: only then are groups kept. */
export function actsOnAlerts(config: Config): boolean {
  return config.actions !== undefined || config.alertmanager !== undefined || config.grafana !== undefined;
}

export function eventActions(event: Event, config: Config, now: number): EventActions | undefined {
  if (!actsOnAlerts(config)) return undefined;
  const group = actionGroupOf(event);
  if (group === undefined) return undefined;
  if (group.status !== "firing") return { group };
  const link = config.actions;
  const actionsUrl =
    link?.public_url !== undefined && link.secret !== undefined
      ? signActionLink({ publicUrl: link.public_url, secret: link.secret, groupId: group.id, expiresAt: now + ACTION_LINK_TTL_MS })
      : undefined;
  const canSilence = group.source === "grafana" ? config.grafana !== undefined : config.alertmanager !== undefined;
  const silenceFor = (link?.silence_for ?? DEFAULT_SILENCE_FOR).map((length) => length.label);
  const url = actionsUrl ?? group.link;
  const card = canSilence
    ? (): RenderedCard | undefined => {
        // Unique per app and never reused: WeCom refuses a task id it has seen (42014).
        const taskId = `${group.id}-${randomBytes(9).toString("base64url")}`;
        const built = alertCard(group, { taskId, silenceFor, ...(url !== undefined && { url }) });
        return built.ok ? { content: JSON.stringify(built.card), action: { group: group.id, task: taskId } } : undefined;
      }
    : undefined;
  return { group, ...(actionsUrl !== undefined && { actionsUrl }), ...(card !== undefined && { card }) };
}
