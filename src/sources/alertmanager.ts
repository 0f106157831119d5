// Alertmanager webhook (version "4") -> one Event per notification.
import { z } from "zod";
import type { Event, Labels } from "../types.js";
import { eventId } from "./event-id.js";
import { firstLink } from "./link.js";
import { parsePayload, type Parsed } from "./validate.js";

const labelMap = z.record(z.string(), z.string());
const status = z.enum(["firing", "resolved"]);

const alertSchema = z.looseObject({
  status,
  labels: labelMap,
  annotations: labelMap.default({}),
  startsAt: z.string().default(""),
  endsAt: z.string().default(""),
  generatorURL: z.string().default(""),
  fingerprint: z.string().default(""),
});

/** Fields shared by Alertmanager's payload and Grafana's Alertmanager-format variant. */
export const alertGroupFields = {
  groupKey: z.string().default(""),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status,
  receiver: z.string(),
  groupLabels: labelMap.default({}),
  commonLabels: labelMap.default({}),
  commonAnnotations: labelMap.default({}),
  externalURL: z.string().default(""),
  alerts: z.array(alertSchema).min(1, "expected at least one alert"),
};

const payloadSchema = z.looseObject({
  version: z.literal("4", { error: 'expected "4" (Alertmanager webhook version 4)' }),
  ...alertGroupFields,
});

export type AlertmanagerPayload = z.output<typeof payloadSchema>;
export type AlertGroup = Pick<AlertmanagerPayload, keyof typeof alertGroupFields>;
export type Alert = AlertmanagerPayload["alerts"][number];

/** Alertmanager passes the receiver name through regexp.QuoteMeta: `ops\.wecom`. */
export function unquoteMeta(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

/** "[FIRING:2] HighLatency, DiskFull" — every alert name, so digests lose none. */
export function alertGroupSummary(alerts: readonly Alert[]): string {
  const counts = { firing: 0, resolved: 0 };
  const names = new Set<string>();
  for (const alert of alerts) {
    counts[alert.status] += 1;
    names.add(alert.labels.alertname ?? "(no alertname)");
  }
  const tally = [
    counts.firing ? `FIRING:${counts.firing}` : "",
    counts.resolved ? `RESOLVED:${counts.resolved}` : "",
  ].filter(Boolean);
  return `[${tally.join(", ")}] ${[...names].join(", ")}`;
}

/** The template data and labels common to Alertmanager-shaped notifications. */
export function alertGroupEvent(source: Event["source"], group: AlertGroup, extra: Record<string, unknown>): Event {
  const receiver = unquoteMeta(group.receiver);
  const firing = group.alerts.filter((alert) => alert.status === "firing");
  const resolved = group.alerts.filter((alert) => alert.status === "resolved");
  // Our own labels win over same-named common labels: routes rely on them.
  const labels: Labels = { ...group.commonLabels, receiver, source, status: group.status };
  // Grafana's alerts carry panel and dashboard links; every alert has its source graph.
  const linked = [...firing, ...resolved].flatMap((alert) => [alert.panelURL, alert.dashboardURL, alert.generatorURL]);
  const link = firstLink(...linked, group.externalURL);
  return {
    id: eventId(source, group.groupKey, group.status, group.alerts),
    source,
    labels,
    status: group.status,
    summary: alertGroupSummary(group.alerts),
    ...(link !== undefined && { link }),
    data: {
      ...extra,
      ...group,
      receiver,
      firing,
      resolved,
      firingCount: firing.length,
      resolvedCount: resolved.length,
    },
  };
}

export function alertmanagerEvents(body: unknown): Parsed<Event[]> {
  const parsed = parsePayload(payloadSchema, body);
  if (!parsed.ok) return parsed;
  const { version, ...group } = parsed.value;
  return { ok: true, value: [alertGroupEvent("alertmanager", group, { version })] };
}
