// Runs a server binary the tests need (Alertmanager, Prometheus) until it answers its
// readiness URL; stop() ends it and removes its temporary folder.
import { spawn, type ChildProcess } from "node:child_process";
import type { tempDir } from "./tmp.js";

export interface Daemon {
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startDaemon(options: { name: string; binary: string; args: string[]; readyUrl: string; timeoutMs: number; tmp: ReturnType<typeof tempDir> }): Promise<Daemon> {
  const log: string[] = [];
  const child = spawn(options.binary, options.args, { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    options.tmp.remove();
  };
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await fetch(options.readyUrl).then((res) => res.ok, () => false)) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`${options.name} did not become ready:\n${log.join("")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, stop };
}
