// Child process: the second ingest baseline — an empty express 5 app that parses the body
// with express.json and answers 200 `{}` from one POST route: what the relay's HTTP
// framework costs before it does any work of its own.
// Sends { type: "ready", port } over IPC once listening on 127.0.0.1.
import { createServer } from "node:http";
import express from "express";
import { serveForParent } from "./child-server.js";

const app = express();
app.use(express.json({ limit: "1mb" }));
app.post("/webhook/alertmanager", (_req, res) => {
  res.status(200).json({});
});

serveForParent(createServer(app));
