// The child-process side of a benchmark server: listen on 127.0.0.1, tell the parent the
// port over IPC, and stop on SIGTERM or when the parent goes away.
import type { Server } from "node:http";

export function serveForParent(server: Server): void {
  server.listen(0, "127.0.0.1", () => {
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
}
