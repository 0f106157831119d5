// Builders for realistic inbound payloads.

export interface AlertSpec {
  name: string;
  status?: "firing" | "resolved";
  severity?: string;
  labels?: Record<string, string>;
  summary?: string;
}

export function alert(spec: AlertSpec) {
  const status = spec.status ?? "firing";
  return {
    status,
    labels: { alertname: spec.name, severity: spec.severity ?? "warning", instance: "10.0.0.5:8080", job: "api", ...spec.labels },
    annotations: { summary: spec.summary ?? `${spec.name} summary`, description: `${spec.name} description` },
    startsAt: "2025-06-01T08:00:00Z",
    endsAt: status === "resolved" ? "2025-06-01T08:30:00Z" : "0001-01-01T00:00:00Z",
    generatorURL: "http://prometheus:9090/graph?g0.expr=up",
    fingerprint: Buffer.from(spec.name).toString("hex").slice(0, 16),
  };
}

/** An Alertmanager v4 webhook body for the given alerts (one group). */
export function alertmanagerPayload(alerts: AlertSpec[], options: { receiver?: string; commonLabels?: Record<string, string> } = {}) {
  const built = alerts.map(alert);
  const firing = built.some((a) => a.status === "firing");
  const first = built[0]!;
  return {
    version: "4",
    groupKey: `{}:{alertname="${first.labels.alertname}"}`,
    truncatedAlerts: 0,
    status: firing ? "firing" : "resolved",
    receiver: options.receiver ?? "wecom",
    groupLabels: { alertname: first.labels.alertname },
    commonLabels: options.commonLabels ?? { alertname: first.labels.alertname, severity: first.labels.severity },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: built,
  };
}
