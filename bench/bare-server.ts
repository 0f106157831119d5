// Child process: the baseline for ingest — a bare node:http server that reads the body,
// parses it as JSON and answers 200 JSON, with nothing else (no routing, no outbox).
// Sends { type: "ready", port } over IPC once listening on 127.0.0.1.
import { createServer, type ServerResponse } from "node:http";
import { serveForParent } from "./child-server.js";

function reply(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      reply(res, 400, { status: "error", error: "body is not JSON" });
      return;
    }
    const alerts = (body as { alerts?: unknown }).alerts;
    reply(res, 200, { status: "queued", alerts: Array.isArray(alerts) ? alerts.length : 0 });
  });
});

serveForParent(server);
