// Starts the real Alertmanager (Debian's prometheus-alertmanager) on a free loopback
// port with a config written to a temporary folder, and waits until it is ready.
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { findBinary } from "./binaries.js";
import { startDaemon } from "./daemon.js";
import { tempDir } from "./tmp.js";

export const alertmanagerBinary = findBinary("alertmanager");

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningAlertmanager {
  /** Base URL, route prefix included (no trailing slash). */
  url: string;
  /** Posts alerts to /api/v2/alerts; throws unless Alertmanager takes them. */
  postAlerts(alerts: object[]): Promise<void>;
  /** GET under /api/v2, parsed. */
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** `config` is alertmanager.yml; `routePrefix` like "/am/" serves everything under it. */
export async function startAlertmanager(config: string, options: { routePrefix?: string } = {}): Promise<RunningAlertmanager> {
  if (!alertmanagerBinary) throw new Error("alertmanager is not installed");
  const tmp = tempDir();
  const port = await freePort();
  const prefix = options.routePrefix ?? "/";
  const url = `http://127.0.0.1:${port}${prefix.replace(/\/$/, "")}`;
  const configFile = join(tmp.dir, "alertmanager.yml");
  writeFileSync(configFile, config);
  const { stop } = await startDaemon({
    name: "Alertmanager",
    binary: alertmanagerBinary,
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(tmp.dir, "am-data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(prefix !== "/" ? [`--web.route-prefix=${prefix}`] : []),
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    readyUrl: `${url}/-/ready`,
    timeoutMs: 15_000,
    tmp,
  });
  return {
    url,
    postAlerts: async (alerts) => {
      const res = await fetch(`${url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
      if (res.status !== 200) throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
    },
    get: async <T,>(path: string) => {
      const res = await fetch(`${url}/api/v2${path}`);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    stop,
  };
}
