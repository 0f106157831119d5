// Starts the real Prometheus (Debian's `prometheus`) on a free loopback port with a config
// and rule files written to a temporary folder, waits until it is ready, and queries it
// through its HTTP API as Grafana does.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./alertmanager.js";
import { findBinary } from "./binaries.js";
import { startDaemon } from "./daemon.js";
import { tempDir } from "./tmp.js";

export const prometheusBinary = findBinary("prometheus");

/** One series of a range query: its labels and [seconds, value] points. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface RuleState {
  name: string;
  type: "alerting" | "recording";
  health: string;
  lastError?: string;
  alerts?: { labels: Record<string, string>; state: string; value: string }[];
}

export interface RunningPrometheus {
  url: string;
  /** Evaluates `expr` at every `stepSeconds` between `start` and `end` (epoch seconds); throws on a query error. */
  queryRange(expr: string, start: number, end: number, stepSeconds?: number): Promise<RangeSeries[]>;
  /** Evaluates `expr` at `time` (epoch seconds, default now); throws on a query error. */
  query(expr: string, time?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** The values of `label` on series matching `match` between `start` and `end`, as Grafana's label_values(). */
  labelValues(label: string, match: string, start: number, end: number): Promise<string[]>;
  /** Every rule of every loaded group, with its health and active alerts. */
  rules(): Promise<RuleState[]>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Scrape jobs besides Prometheus's own (job "prometheus"): name and host:port targets. */
  jobs: { name: string; targets: string[] }[];
  ruleFiles?: string[];
  /** Scrape and rule evaluation interval (default "1s"). */
  interval?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  if (!prometheusBinary) throw new Error("prometheus is not installed");
  const tmp = tempDir();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const interval = options.interval ?? "1s";
  const configFile = join(tmp.dir, "prometheus.yml");
  const jobs = [{ name: "prometheus", targets: [`127.0.0.1:${port}`] }, ...options.jobs];
  writeFileSync(
    configFile,
    [
      `global: { scrape_interval: ${interval}, evaluation_interval: ${interval}, scrape_timeout: ${interval} }`,
      `rule_files: ${JSON.stringify(options.ruleFiles ?? [])}`,
      "scrape_configs:",
      ...jobs.map((job) => `  - { job_name: ${JSON.stringify(job.name)}, static_configs: [{ targets: ${JSON.stringify(job.targets)} }] }`),
      "",
    ].join("\n"),
  );
  const { stop } = await startDaemon({
    name: "Prometheus",
    binary: prometheusBinary,
    args: [`--config.file=${configFile}`, `--storage.tsdb.path=${join(tmp.dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    readyUrl: `${url}/-/ready`,
    timeoutMs: 20_000,
    tmp,
  });

  const api = async <T,>(path: string, params: Record<string, string | string[]>): Promise<T> => {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) for (const one of [value].flat()) body.append(name, one);
    const res = await fetch(`${url}/api/v1/${path}`, { method: "POST", body });
    const answer = (await res.json()) as { status: string; data: T; error?: string };
    if (answer.status !== "success") throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${answer.error ?? res.status}`);
    return answer.data;
  };

  return {
    url,
    queryRange: async (expr, start, end, stepSeconds = 1) =>
      (await api<{ result: RangeSeries[] }>("query_range", { query: expr, start: String(start), end: String(end), step: String(stepSeconds) })).result,
    query: async (expr, time) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>("query", { query: expr, ...(time !== undefined && { time: String(time) }) })).result,
    labelValues: async (label, match, start, end) => {
      const series = await api<Record<string, string>[]>("series", { "match[]": match, start: String(start), end: String(end) });
      return [...new Set(series.flatMap((labels) => (labels[label] === undefined ? [] : [labels[label]!])))].sort();
    },
    rules: async () => {
      const res = await fetch(`${url}/api/v1/rules`);
      const answer = (await res.json()) as { data: { groups: { rules: RuleState[] }[] } };
      return answer.data.groups.flatMap((group) => group.rules);
    },
    stop,
  };
}
