// Runs the built relay (dist/src/cli.js) as a child process, as operators run it, so
// tests can kill it with real signals.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

export interface ChildRelay {
  url: string;
  process: ChildProcess;
  /** Every line the relay logged so far. */
  logs: string[];
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

export function cliPath(): string {
  const cli = join(packageRoot(), "dist", "src", "cli.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" (npm test does)`);
  return cli;
}

export async function startChildRelay(
  configFile: string,
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  options: { listen?: string } = {},
): Promise<ChildRelay> {
  const listen = options.listen ?? "127.0.0.1:0";
  const child = spawn(process.execPath, [cliPath(), "serve", "--config", configFile, "--listen", listen, "--data-dir", dataDir], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        logs.push(line);
        const address = /"msg":"listening".*"address":"([^"]+)"/.exec(line)?.[1];
        // Listening on every interface: reach it over loopback.
        if (address) resolve(`http://${address.replace(/^(0\.0\.0\.0|::):/, "127.0.0.1:")}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error(`relay exited (${code}) before listening:\n${logs.join("\n")}`)));
    setTimeout(() => reject(new Error(`relay did not start within 10 s:\n${logs.join("\n")}`)), 10_000).unref();
  });
  return { url, process: child, logs, exited, kill: (signal) => child.kill(signal) };
}
