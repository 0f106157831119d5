// Grafana alerting webhook contact point -> one Event per notification.
//
// Grafana sends one of two bodies, told apart by `version`:
//   "1" — its own webhook integration: an Alertmanager-shaped group plus orgId, title,
//         state and message, and per alert silenceURL, dashboardURL, panelURL, values,
//         valueString, imageURL and ruleUID;
//   "4" — its Alertmanager-compatible (Mimir) integration: the Alertmanager body as is.
// Both become the same event as an Alertmanager notification (labels: the common labels,
// receiver, source=grafana, status), so routes and templates treat them alike. Each alert
// also gets, for templates, `valueText` ("B=95.2, C=1"; "" without values) and
// `distinctLabels` ("host=db1": its labels that are not common to the group).
import { z } from "zod";
import type { Event } from "../types.js";
import { alertGroupEvent, alertGroupFields } from "./alertmanager.js";
import { parsePayload, type Parsed } from "./validate.js";

const alertsMessage = "expected at least one alert";

// Grafana omits these or sends "" / null when a rule has no dashboard, panel or image.
const optionalUrl = z.string().nullish().transform((value) => value ?? "");

const grafanaAlert = alertGroupFields.alerts.element.extend({
  silenceURL: optionalUrl,
  dashboardURL: optionalUrl,
  panelURL: optionalUrl,
  imageURL: optionalUrl,
  // A Go map: null when the rule's query produced no values.
  values: z.record(z.string(), z.number().nullable()).nullish().transform((value) => value ?? {}),
  valueString: z.string().default(""),
  ruleUID: z.string().default(""),
});

const grafanaPayload = z.looseObject({
  version: z.literal("1"),
  ...alertGroupFields,
  alerts: z.array(grafanaAlert).min(1, alertsMessage),
  orgId: z.number().int().optional(),
  title: z.string().default(""),
  state: z.string().default(""),
  message: z.string().default(""),
});

const alertmanagerFormatPayload = z.looseObject({
  version: z.literal("4"),
  ...alertGroupFields,
});

const bodySchema = z.looseObject({ version: z.unknown() });

const VERSION_ERROR = 'expected "1" (Grafana webhook) or "4" (Alertmanager-compatible webhook)';

export function grafanaEvents(body: unknown): Parsed<Event[]> {
  const shape = parsePayload(bodySchema, body);
  if (!shape.ok) return shape;
  const version = shape.value.version;

  if (version === "1" || version === "4") {
    // Version "4" is Alertmanager's format sent by Grafana: no query values.
    const parsed = version === "1" ? parsePayload(grafanaPayload, body) : parsePayload(alertmanagerFormatPayload, body);
    if (!parsed.ok) return parsed;
    const { version: _version, alerts, ...group } = parsed.value;
    const described = alerts.map((alert) => ({
      ...alert,
      valueText: version === "1" && "values" in alert ? valueText(alert.values as Record<string, number | null>) : "",
      distinctLabels: distinctLabels(alert.labels, group.commonLabels),
    }));
    return { ok: true, value: [alertGroupEvent("grafana", { ...group, alerts: described }, { version })] };
  }
  const got = version === undefined ? "it is missing" : `got ${JSON.stringify(version)}`;
  return { ok: false, field: "version", error: `version: ${VERSION_ERROR}, ${got}` };
}

/** "B=95.2, C=1": a rule's query values, rounded for reading, in Grafana's order. */
export function valueText(values: Record<string, number | null>): string {
  return Object.entries(values)
    .map(([ref, value]) => `${ref}=${value === null ? "null" : formatValue(value)}`)
    .join(", ");
}

// Query results carry float noise (95.20000000001); three decimals or three significant
// digits for small values read well without hiding the order of magnitude.
function formatValue(value: number): string {
  if (Number.isInteger(value) || Math.abs(value) >= 1) return String(Math.round(value * 1000) / 1000);
  return String(Number(value.toPrecision(3)));
}

/** "host=db1, mountpoint=/data": what tells this alert apart from the others in its group. */
export function distinctLabels(labels: Record<string, string>, common: Record<string, string>): string {
  return Object.entries(labels)
    .filter(([name, value]) => common[name] !== value)
    .map(([name, value]) => `${name}=${value}`)
    .join(", ");
}
