// Opens the Store the config asks for.
import type { Config } from "../config/schema.js";
import type { Store } from "./contract.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";

export async function openStore(storage: Config["storage"], dataDir: string): Promise<Store> {
  if (storage.driver === "postgres") return PostgresStore.open({ url: storage.url! });
  return SqliteStore.open(dataDir);
}
