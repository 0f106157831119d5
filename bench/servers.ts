// Parent side of the two servers under load: the bare baseline and the relay itself
// (the real CLI, `wecom-relay serve`), each in its own child process on 127.0.0.1.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitForHttpOk, waitForMessage, type ChildSet, type ManagedChild } from "./processes.js";

export interface ServerProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  child: ManagedChild;
}

const READY_TIMEOUT_MS = 15_000;

export async function startBareServer(children: ChildSet): Promise<ServerProcess> {
  const child = children.start("bare server", new URL("./bare-server.js", import.meta.url), []);
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
  /** A fresh folder for the config file and the outbox. */
  dir: string;
  /** Extra node flags for the relay, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

/** Runs `node dist/src/cli.js serve` and waits until /-/ready answers 200. */
export async function startRelayServer(children: ChildSet, options: RelayServerOptions): Promise<ServerProcess> {
  const configFile = join(options.dir, "routes.yml");
  const dataDir = join(options.dir, "data");
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
