// Alertmanager webhook (version "4") -> one Event per notification.
import { z } from "zod";
import type { Event, Labels } from "../types.js";
import { eventId } from "./event-id.js";
import { keepChars } from "../truncate.js";
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

/** Instances named in a summary line; the rest are counted. */
const SUMMARY_INSTANCES = 3;
/** Characters of the first alert's summary annotation in a summary line. */
const SUMMARY_TEXT_CHARS = 80;

/**
 * One line for a digest: "[FIRING:2] DiskFull · node-1:9100, node-2:9100 · Disk almost
 * full". Every alert name, the instances (up to 3, then "+N"), and the first alert's
 * summary, so a digest line says what and where without the full message.
 */
export function alertGroupSummary(alerts: readonly Alert[]): string {
  const counts = { firing: 0, resolved: 0 };
  const names = new Set<string>();
  const instances = new Set<string>();
  for (const alert of alerts) {
    counts[alert.status] += 1;
    names.add(alert.labels.alertname ?? "(no alertname)");
    const instance = alert.labels.instance;
    if (instance) instances.add(instance);
  }
  const tally = [
    counts.firing ? `FIRING:${counts.firing}` : "",
    counts.resolved ? `RESOLVED:${counts.resolved}` : "",
  ].filter(Boolean);
  const listed = [...instances].slice(0, SUMMARY_INSTANCES);
  const more = instances.size - listed.length;
  const where = listed.length > 0 ? `${listed.join(", ")}${more > 0 ? ` +${more}` : ""}` : "";
  const first = alerts[0]?.annotations;
  const what = oneLine(first?.summary ?? first?.message ?? "");
  const shortWhat = keepChars(what, SUMMARY_TEXT_CHARS);
  return [`[${tally.join(", ")}] ${[...names].join(", ")}`, where, shortWhat].filter(Boolean).join(" · ");
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/**
 * Alertmanager's page for a new silence, filled with the group's labels: what its own
 * default template links to.
 */
export function silenceUrl(externalURL: string, groupLabels: Labels): string | undefined {
  if (!/^https?:\/\//i.test(externalURL)) return undefined;
  const matchers = Object.entries(groupLabels).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return `${externalURL.replace(/\/+$/, "")}/#/silences/new?filter=${encodeURIComponent(`{${matchers.join(", ")}}`)}`;
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
  const silenceURL = silenceUrl(group.externalURL, group.groupLabels);
  return { ok: true, value: [alertGroupEvent("alertmanager", group, { version, ...(silenceURL !== undefined && { silenceURL }) })] };
}
