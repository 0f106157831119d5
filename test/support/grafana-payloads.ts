// Builders for Grafana alerting webhook bodies: the Grafana integration's version "1"
// and the Alertmanager-compatible version "4" (see reference/sources.md section b).

const GRAFANA = "https://grafana.example.com/";
const ZERO_TIME = "0001-01-01T00:00:00Z";

export interface GrafanaAlertSpec {
  name: string;
  status?: "firing" | "resolved";
  host?: string;
  values?: Record<string, number> | null;
  summary?: string;
  description?: string;
  dashboard?: boolean;
  image?: boolean;
}

export function grafanaAlert(spec: GrafanaAlertSpec) {
  const status = spec.status ?? "firing";
  const host = spec.host ?? "db1";
  const values = spec.values === undefined ? { B: 95.2, C: 1 } : spec.values;
  const dashboard = spec.dashboard ?? true;
  return {
    status,
    labels: { alertname: spec.name, grafana_folder: "infra", host, severity: "critical" },
    annotations: {
      summary: spec.summary ?? `Disk usage on ${host} is above 90%`,
      description: spec.description ?? "The data volume fills up.\nExpand it or clean old WAL files.",
    },
    startsAt: "2025-06-01T08:00:00Z",
    endsAt: status === "resolved" ? "2025-06-01T08:30:00Z" : ZERO_TIME,
    generatorURL: `${GRAFANA}alerting/grafana/ddiskfull/view?orgId=1`,
    fingerprint: Buffer.from(`${spec.name}${host}`).toString("hex").slice(0, 16),
    silenceURL: `${GRAFANA}alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dddiskfull&matcher=host%3D${host}&orgId=1`,
    dashboardURL: dashboard ? `${GRAFANA}d/node-exporter?from=1748761200000&orgId=1&to=1748766600000` : "",
    panelURL: dashboard ? `${GRAFANA}d/node-exporter?from=1748761200000&orgId=1&to=1748766600000&viewPanel=12` : "",
    values,
    valueString: values === null ? "" : Object.entries(values).map(([ref, v]) => `[ var='${ref}' labels={host=${host}} value=${v} ]`).join(", "),
    ...(spec.image ? { imageURL: `${GRAFANA}public/img/attachments/abc123.png` } : {}),
    orgId: 1,
    ruleUID: "ddiskfull",
  };
}

function groupFields(alerts: ReturnType<typeof grafanaAlert>[]) {
  const first = alerts[0]!;
  const firing = alerts.filter((a) => a.status === "firing").length;
  const resolved = alerts.length - firing;
  return {
    receiver: "wecom-infra",
    status: firing > 0 ? "firing" : "resolved",
    groupKey: `{}/{__grafana_receiver__="wecom-infra"}:{alertname="${first.labels.alertname}"}`,
    truncatedAlerts: 0,
    groupLabels: { alertname: first.labels.alertname, grafana_folder: "infra" },
    commonLabels: { alertname: first.labels.alertname, grafana_folder: "infra", severity: "critical" },
    commonAnnotations: {},
    externalURL: GRAFANA,
    // Grafana's default.title: "[FIRING:2, RESOLVED:1] <group label values>".
    title: `[${firing > 0 ? `FIRING:${firing}${resolved > 0 ? `, RESOLVED:${resolved}` : ""}` : "RESOLVED"}] ${first.labels.alertname} infra`,
  };
}

/** A Grafana "1" body, as its webhook integration sends it. */
export function grafanaPayload(specs: GrafanaAlertSpec[]) {
  const alerts = specs.map(grafanaAlert);
  const group = groupFields(alerts);
  return {
    ...group,
    version: "1",
    orgId: 1,
    state: group.status === "firing" ? "alerting" : "ok",
    message: `**${group.status === "firing" ? "Firing" : "Resolved"}**\n\nValue: B=95.2\nLabels:\n - alertname = DiskFull`,
    alerts,
  };
}

/** A version "4" body from Grafana's Alertmanager-compatible integration: no Grafana extras. */
export function grafanaAlertmanagerFormatPayload(specs: GrafanaAlertSpec[]) {
  const alerts = specs.map((spec) => {
    const { silenceURL: _s, dashboardURL: _d, panelURL: _p, values: _v, valueString: _vs, orgId: _o, ruleUID: _r, ...alert } = grafanaAlert(spec);
    return alert;
  });
  const { title: _title, ...group } = groupFields(alerts as ReturnType<typeof grafanaAlert>[]);
  return { ...group, version: "4", alerts };
}
