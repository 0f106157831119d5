// The two outbox drivers the benchmarks run the relay on: SQLite in the relay's data dir,
// or a fresh database on one throwaway PostgreSQL server started for the whole run.
import { PostgresStore } from "../src/outbox/postgres.js";
import { SqliteStore } from "../src/outbox/sqlite.js";
import type { Store } from "../src/outbox/contract.js";
import { processTree } from "./processes.js";
import type { BenchStorage } from "./relay-config.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PostgresServer } from "../test/support/postgres.js";

export type Driver = BenchStorage["driver"];

export const DRIVERS: readonly Driver[] = ["sqlite", "postgres"];

export interface Storages {
  /** The drivers this run measures, in report order. */
  drivers: Driver[];
  /** Storage for one relay run: nothing to prepare for SQLite, a new database for PostgreSQL. */
  fresh(driver: Driver): Promise<BenchStorage>;
  /** Opens the Store a relay run will use, to write into it before the relay starts. */
  open(storage: BenchStorage, dataDir: string): Promise<Store>;
  /** The database server's processes (postmaster and backends), for CPU figures; none for SQLite. */
  databasePids(driver: Driver): number[];
}

export function storages(drivers: Driver[], postgres: PostgresServer | undefined): Storages {
  let databases = 0;
  return {
    drivers,
    async fresh(driver) {
      if (driver === "sqlite") return { driver };
      if (!postgres) throw new Error("no PostgreSQL server was started for this run");
      databases += 1;
      return { driver, url: await postgres.createDatabase(`bench_${databases}`) };
    },
    async open(storage, dataDir) {
      if (storage.driver === "sqlite") return SqliteStore.open(dataDir);
      return PostgresStore.open({ url: storage.url });
    },
    databasePids(driver) {
      if (driver === "sqlite" || !postgres) return [];
      try {
        // The first line of postmaster.pid is the server's pid.
        const postmaster = Number(readFileSync(join(postgres.dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
        return Number.isInteger(postmaster) && postmaster > 0 ? processTree(postmaster) : [];
      } catch {
        return [];
      }
    },
  };
}
