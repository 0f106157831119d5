// Links from console pages to the panel of the shipped Grafana dashboard that shows the
// same thing over time. Panels are found by the metric they chart, so renumbering or
// renaming panels does not break a link; a metric with no panel gets no link.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../paths.js";

interface Panel {
  id?: number;
  type?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

let panels: Panel[] | undefined;

function shippedPanels(): Panel[] {
  if (panels !== undefined) return panels;
  try {
    const dashboard = JSON.parse(readFileSync(join(packageRoot(), "grafana", "wecom-relay.json"), "utf8")) as { panels?: Panel[] };
    panels = (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  } catch {
    panels = [];
  }
  return panels;
}

/** The first time-series panel charting `metric` (else any panel), by id. */
export function panelFor(metric: string): number | undefined {
  const charting = shippedPanels().filter((panel) => panel.targets?.some((target) => target.expr?.includes(metric)));
  return (charting.find((panel) => panel.type === "timeseries") ?? charting[0])?.id;
}

/** The panel's URL on the configured Grafana, or undefined without one (or without a panel). */
export function grafanaPanelUrl(grafanaUrl: string | undefined, uid: string, metric: string, variables: Record<string, string> = {}): string | undefined {
  const id = panelFor(metric);
  if (grafanaUrl === undefined || id === undefined) return undefined;
  const query = new URLSearchParams({ viewPanel: String(id) });
  for (const [name, value] of Object.entries(variables)) query.set(`var-${name}`, value);
  return `${grafanaUrl.replace(/\/+$/, "")}/d/${encodeURIComponent(uid)}/wecom-relay?${query}`;
}
