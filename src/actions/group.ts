// The alert group a notification is about, as the relay keeps it to act on later: what a
// silence for it matches (its group labels), and what a card or an action page shows.
import { createHash } from "node:crypto";
import type { Event, Labels } from "../types.js";

export interface GroupAlert {
  name: string;
  status: string;
  labels: Labels;
  summary?: string;
  startsAt?: string;
}

export interface ActionGroup {
  /** Stable for one Alertmanager/Grafana group (same source and groupKey): links and cards name it. */
  id: string;
  source: "alertmanager" | "grafana";
  status: "firing" | "resolved";
  /** e.g. "[FIRING:2] HighLatency · api-1:9100, api-2:9100" */
  title: string;
  /** A silence for the group: equality matchers on these labels. */
  matchers: Labels;
  alerts: GroupAlert[];
  link?: string;
}

/** An action page lists at most this many alerts; the silence covers the whole group anyway. */
const MAX_ALERTS = 50;

export function groupIdOf(source: string, groupKey: string): string {
  return "g" + createHash("sha256").update(`${source}\n${groupKey}`).digest("base64url").slice(0, 22);
}

/**
 * The group of an Alertmanager or Grafana notification, or undefined for other events and
 * for a group with no label to silence on (a silence needs at least one matcher).
 */
export function actionGroupOf(event: Event): ActionGroup | undefined {
  if (event.source !== "alertmanager" && event.source !== "grafana") return undefined;
  if (event.status === undefined) return undefined;
  const data = event.data as {
    groupKey?: unknown;
    groupLabels?: Record<string, unknown>;
    commonLabels?: Record<string, unknown>;
    alerts?: Array<{ status?: unknown; labels?: Record<string, unknown>; annotations?: Record<string, unknown>; startsAt?: unknown }>;
  };
  if (typeof data.groupKey !== "string") return undefined;
  // group_by: [] puts every alert in one group with no group labels: silence on what the
  // alerts have in common instead.
  const matchers = stringLabels(data.groupLabels);
  const chosen = Object.keys(matchers).length > 0 ? matchers : stringLabels(data.commonLabels);
  if (Object.keys(chosen).length === 0) return undefined;
  const alerts = (data.alerts ?? []).slice(0, MAX_ALERTS).map((alert): GroupAlert => {
    const labels = stringLabels(alert.labels);
    const summary = alert.annotations?.summary ?? alert.annotations?.message ?? alert.annotations?.description;
    return {
      name: labels.alertname ?? "alert",
      status: typeof alert.status === "string" ? alert.status : event.status!,
      labels,
      ...(typeof summary === "string" && summary !== "" && { summary }),
      ...(typeof alert.startsAt === "string" && { startsAt: alert.startsAt }),
    };
  });
  return {
    id: groupIdOf(event.source, data.groupKey),
    source: event.source,
    status: event.status,
    title: event.summary,
    matchers: chosen,
    alerts,
    ...(event.link !== undefined && { link: event.link }),
  };
}

function stringLabels(value: Record<string, unknown> | undefined): Labels {
  const labels: Labels = {};
  for (const [name, label] of Object.entries(value ?? {})) if (typeof label === "string" && label !== "") labels[name] = label;
  return labels;
}
