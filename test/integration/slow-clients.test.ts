// Hostile connections against the relay as operators run it (a child process): clients
// that trickle headers or stall their body are closed within the configured timeouts,
// and bodies that inflate while stalled cannot take memory past the shared budget.
import { connect, type Socket } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { metricValue, robotConfig } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";

let wecom: FakeWeCom;
let relay: ChildRelay;
const tmp = tempDir();

beforeAll(async () => {
  wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
  const configFile = join(tmp.dir, "routes.yml");
  writeFileSync(
    configFile,
    `server: { header_timeout: 1s, request_timeout: 3s, keep_alive_timeout: 1s, max_buffered: 16MiB }
auth: { github: { secret: "slow-clients-github-secret" } }
${robotConfig(wecom.url, { rate: "{ max: 1000, per: 1s }" })}`,
  );
  relay = await startChildRelay(configFile, join(tmp.dir, "data"));
});
afterAll(async () => {
  relay.kill("SIGKILL");
  await relay.exited;
  await wecom.close();
  tmp.remove();
});

function open(): Promise<Socket> {
  const { hostname: host, port: p } = new URL(relay.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(p), host, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves with how long the server took to close the socket (or the cap). */
function closedWithin(socket: Socket, capMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(capMs), capMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.on("error", () => {});
    socket.resume();
  });
}

async function validPost(): Promise<number> {
  const res = await fetch(`${relay.url}/webhook/alertmanager`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(alertmanagerPayload([{ name: "StillServed" }])),
  });
  return res.status;
}

describe("slow and hostile clients", () => {
  it("closes connections that trickle their headers within the header timeout, while valid posts pass", async () => {
    const sockets = await Promise.all(Array.from({ length: 50 }, () => open()));
    const request = "POST /webhook/github HTTP/1.1\r\nHost: relay\r\nX-Slow: ";
    let i = 0;
    const trickle = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write(request[i % request.length]!);
      i += 1;
    }, 200);
    try {
      const closing = sockets.map((socket) => closedWithin(socket, 10_000));
      expect(await validPost()).toBe(200);
      const times = await Promise.all(closing);
      // 1 s header timeout, checked every second.
      expect(Math.max(...times)).toBeLessThan(4000);
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  }, 20_000);

  it("closes connections that stall their body within the request timeout", async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => open()));
    for (const socket of sockets) {
      socket.write("POST /webhook/github HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nContent-Length: 5000\r\n\r\n{\"ref\":");
    }
    const times = await Promise.all(sockets.map((socket) => closedWithin(socket, 15_000)));
    // 3 s request timeout, checked every second.
    expect(Math.max(...times)).toBeLessThan(6000);
    expect(await validPost()).toBe(200);
  }, 20_000);

  it("keeps memory bounded when 400 unauthenticated gzip bodies inflate to 1 MiB each and stall", async () => {
    const rss = async () => metricValue(await (await fetch(`${relay.url}/metrics`)).text(), "wecom_relay_process_resident_memory_bytes");
    const before = await rss();
    const bomb = gzipSync(Buffer.alloc(1024 * 1024 - 64, " ")); // about 1 KB on the wire
    const sockets: Socket[] = [];
    const answers: string[] = [];
    for (let i = 0; i < 400; i++) {
      const socket = await open();
      socket.on("data", (chunk: Buffer) => answers.push(chunk.toString("latin1").split("\r\n")[0]!));
      socket.on("error", () => {});
      // All the compressed bytes, but the declared length is one byte more: the body never ends.
      socket.write(
        `POST /webhook/github HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nX-GitHub-Event: push\r\nContent-Length: ${bomb.length + 1}\r\n\r\n`,
      );
      socket.write(bomb);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const during = await rss();
    try {
      // Without the budget this would be ~400 MiB more; the budget is 16 MiB.
      expect(during - before).toBeLessThan(100 * 1024 * 1024);
      expect(answers.filter((line) => line.includes(" 503 ")).length).toBeGreaterThan(300);
      expect(await validPost()).toBe(200);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 30_000);
});
