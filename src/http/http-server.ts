// The HTTP server the app runs in, with limits suited to webhooks: headers within a few
// seconds, the whole request within tens, idle keep-alives closed, connections capped.
// Node's defaults keep a slow client for minutes, each held socket a file descriptor.
import { createServer, type Server } from "node:http";
import type { RequestListener } from "node:http";
import type { Config } from "../config/schema.js";

export function createHttpServer(app: RequestListener, limits: Config["server"]): Server {
  const server = createServer(
    {
      headersTimeout: limits.header_timeout,
      requestTimeout: limits.request_timeout,
      keepAliveTimeout: limits.keep_alive_timeout,
      // How often Node checks the two timeouts above (its default, 30 s, would let them run long).
      connectionsCheckingInterval: Math.min(1000, limits.header_timeout),
    },
    app,
  );
  server.maxConnections = limits.max_connections;
  return server;
}
