// Starts the real relay (Service + express app) in-process on 127.0.0.1:0 with a config
// written to a temporary folder.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startApp } from "../../src/app.js";
import type { Service } from "../../src/service.js";
import { tempDir } from "./tmp.js";

export interface RunningRelay {
  url: string;
  service: Service;
  dataDir: string;
  configFile: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

/** Sums the samples of `name` whose labels include `labels`, from a live /metrics scrape. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of exposition.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const sample = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => sample[k] === v)) total += Number(match[3]);
  }
  return total;
}

/**
 * `port` fixes the port (for a config that names the relay's own URL); default: any free one.
 * `host` "::" listens on IPv6 too (IPv4 clients then show as IPv4-mapped addresses); `url` stays on 127.0.0.1.
 */
export async function startRelay(configYaml: string, options: { env?: NodeJS.ProcessEnv; dataDir?: string; port?: number; host?: string } = {}): Promise<RunningRelay> {
  const tmp = tempDir();
  const configFile = join(tmp.dir, "routes.yml");
  writeFileSync(configFile, configYaml);
  const dataDir = options.dataDir ?? join(tmp.dir, "data");
  const started = await startApp({ configFile, dataDir, env: options.env ?? {}, listen: { host: options.host ?? "127.0.0.1", port: options.port ?? 0 } });
  if ("errors" in started) throw new Error(`config errors: ${JSON.stringify(started.errors)}`);
  const { service, server, address } = started.app;
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    service,
    dataDir,
    configFile,
    post: (path, body, headers = {}) =>
      fetch(url + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    metric: async (name, labels) => metricValue(await (await fetch(`${url}/metrics`)).text(), name, labels),
    close: async () => {
      server.closeAllConnections();
      await started.app.stop();
      tmp.remove();
    },
  };
}

/** A minimal config: one robot target per key (20 a second unless `rate`), all on one receiver "sre". */
export function robotConfig(apiBase: string, options: { keys?: string[]; rate?: string; extra?: string; coalesceAfter?: string } = {}): string {
  const keys = options.keys ?? ["k1"];
  return `
wecom: { api_base: "${apiBase}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms, coalesce_after: ${options.coalesceAfter ?? "1h"} }
targets:
${keys.map((key, i) => `  robot-${i + 1}: { type: robot, webhook: "${key}", rate_limit: ${options.rate ?? "{ max: 20, per: 1s }"} }`).join("\n")}
receivers:
  - name: sre
    targets: [${keys.map((_, i) => `robot-${i + 1}`).join(", ")}]
route:
  receiver: sre
${options.extra ?? ""}
`;
}
