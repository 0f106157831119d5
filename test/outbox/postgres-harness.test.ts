// The throwaway PostgreSQL server that outbox tests run against: starts, hands out
// isolated databases, goes down and comes back with its data, and leaves nothing behind.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresBinaries, postgresUnavailable, requirePostgres, startPostgres, type PostgresServer } from "../support/postgres.js";

const unavailable = postgresUnavailable();

function psql(url: string, sql: string): { ok: boolean; out: string } {
  const result = spawnSync(postgresBinaries()!.psql!, [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], {
    encoding: "utf8",
    timeout: 10_000,
    env: { ...process.env, PGCONNECT_TIMEOUT: "3" },
  });
  return { ok: result.status === 0, out: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

/** Resolves with the socket error code for a TCP connect to 127.0.0.1:port, or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe.skipIf(unavailable !== undefined && !requirePostgres)("throwaway PostgreSQL server", () => {
  let server: PostgresServer | undefined;

  beforeAll(async () => {
    if (unavailable) throw new Error(`PostgreSQL is required (WECOM_RELAY_REQUIRE_E2E=1) but ${unavailable}`);
    if (!postgresBinaries()?.psql) throw new Error("psql is required next to initdb/pg_ctl (apt-get install postgresql-client)");
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it("hands out separate databases, goes down, comes back with its data, then leaves nothing behind", async () => {
    const pg = server!;
    expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);

    const first = await pg.createDatabase();
    const second = await pg.createDatabase();
    expect(first).not.toBe(second);
    expect(first).toMatch(new RegExp(`^postgres://postgres@127\\.0\\.0\\.1:${pg.port}/t_[0-9a-f]{12}$`));
    expect(await pg.createDatabase("outbox_named")).toBe(`postgres://postgres@127.0.0.1:${pg.port}/outbox_named`);
    await expect(pg.createDatabase('x"; DROP DATABASE postgres; --')).rejects.toThrow(/plain lower-case identifier/);

    expect(psql(first, "SELECT 1")).toEqual({ ok: true, out: "1" });
    expect(psql(first, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)").ok).toBe(true);
    // Isolated: the table lives only in the first database.
    expect(psql(second, "SELECT count(*) FROM kept").ok).toBe(false);

    await pg.stop();
    expect(await tryConnect(pg.port)).toBe("ECONNREFUSED");
    expect(psql(first, "SELECT 1").ok).toBe(false);
    await pg.stop(); // already stopped: no-op

    await pg.start();
    expect(psql(first, "SELECT 1")).toEqual({ ok: true, out: "1" });
    expect(psql(first, "SELECT v FROM kept")).toEqual({ ok: true, out: "42" });

    await pg.destroy();
    await pg.destroy(); // idempotent
    expect(await tryConnect(pg.port)).toBe("ECONNREFUSED");
    expect(existsSync(pg.dir)).toBe(false);
    await expect(pg.createDatabase()).rejects.toThrow(/destroyed/);
  });
});
