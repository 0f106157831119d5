// Child process: the second ingest baseline — an empty express 5 app that parses the body
// with express.json and answers 200 `{}` from one POST route: what the relay's HTTP
// framework costs before it does any work of its own.
// Sends { type: "ready", port } over IPC once listening on 127.0.0.1.
import express from "express";

const app = express();
app.use(express.json({ limit: "1mb" }));
app.post("/webhook/alertmanager", (_req, res) => {
  res.status(200).json({});
});

const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ type: "ready", port: typeof address === "object" && address ? address.port : 0 });
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once("SIGTERM", shutdown);
// The parent went away: do not outlive it.
process.once("disconnect", shutdown);
