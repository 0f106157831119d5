// The shipped Grafana dashboard as tests read it: its panels (rows' nested ones too), the
// PromQL each runs, and the label_values queries behind its variables.
import { readFileSync } from "node:fs";

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  /** What "All" stands for; Grafana joins every value found when it is unset. */
  allValue?: string;
}

export interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

export const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

export const dashboard = JSON.parse(readFileSync(new URL("../../grafana/wecom-relay.json", import.meta.url), "utf8")) as Dashboard;

/** Every panel, including those nested in collapsed rows. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

export const panels = allPanels(dashboard.panels);
export const queryPanels = panels.filter((panel) => panel.type !== "row");

/** Every PromQL expression a panel runs, with where it comes from. */
export function panelExpressions(): { where: string; expr: string }[] {
  return queryPanels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr ?? "" })),
  );
}

/** The label_values queries behind the dashboard's variables. */
export function variableExpressions(): { where: string; expr: string }[] {
  return dashboard.templating.list
    .filter((variable) => variable.type === "query")
    .map((variable) => ({
      where: `variable $${variable.name}`,
      expr: typeof variable.query === "string" ? variable.query : (variable.query?.query ?? ""),
    }));
}
