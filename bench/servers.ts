// Parent side of the servers under load: the baselines (bare node:http, empty express)
// and the relay itself (the real CLI, `wecom-relay serve`), each in its own child process
// on 127.0.0.1.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitForHttpOk, waitForMessage, type ChildSet, type ManagedChild } from "./processes.js";

export interface ServerProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  child: ManagedChild;
}

/** Generous: a relay opening an outbox of 100,000 queued rows is ready within a few seconds. */
const READY_TIMEOUT_MS = 30_000;

/** The baselines for ingest: a bare node:http JSON echo, and an empty express app. */
export type Baseline = "bare" | "express";

const BASELINE_SCRIPTS: Record<Baseline, string> = { bare: "./bare-server.js", express: "./express-server.js" };

export async function startBaselineServer(children: ChildSet, baseline: Baseline): Promise<ServerProcess> {
  const child = children.start(`${baseline} server`, new URL(BASELINE_SCRIPTS[baseline], import.meta.url), []);
  const port = await waitForMessage(
    child,
    (message) => {
      const m = message as { type?: unknown; port?: unknown };
      return m.type === "ready" && typeof m.port === "number" ? m.port : undefined;
    },
    READY_TIMEOUT_MS,
  );
  return { url: `http://127.0.0.1:${port}`, child };
}

export interface RelayServerOptions {
  configYaml: string;
  /** A folder for the config file and the SQLite outbox (`<dir>/data`, created if missing). */
  dir: string;
  /** Extra node flags for the relay, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

/** Where startRelayServer points --data-dir: the SQLite outbox lives there. */
export function relayDataDir(dir: string): string {
  return join(dir, "data");
}

/** Runs `node dist/src/cli.js serve` and waits until /-/ready answers 200. */
export async function startRelayServer(children: ChildSet, options: RelayServerOptions): Promise<ServerProcess> {
  const configFile = join(options.dir, "routes.yml");
  const dataDir = relayDataDir(options.dir);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(configFile, options.configYaml);
  const port = await freePort();
  const child = children.start(
    "relay",
    new URL("../src/cli.js", import.meta.url),
    ["serve", "--config", configFile, "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir],
    { ipc: false, ...(options.nodeArgs && { nodeArgs: options.nodeArgs }) },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttpOk(child, `${url}/-/ready`, READY_TIMEOUT_MS);
  return { url, child };
}
