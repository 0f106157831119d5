// The relay config the benchmarks run with: shaped like the shipped routes.yml (auth, a
// critical-alerts child route with a text mention), one robot target on the fake WeCom,
// and the outbox on SQLite or PostgreSQL.

export interface BenchRelayConfig {
  /** The fake WeCom's base URL. */
  apiBase: string;
  robotKey: string;
  /** e.g. { max: 20, per: "1s" } */
  rateLimit: { max: number; per: string };
  coalesceAfter: string;
  bearerToken: string;
  /** The outbox: SQLite under --data-dir unless a PostgreSQL database is given. */
  storage?: BenchStorage;
}

export type BenchStorage = { driver: "sqlite" } | { driver: "postgres"; url: string };

function storageYaml(storage: BenchStorage | undefined): string {
  if (storage?.driver === "postgres") return `storage: { driver: postgres, url: "${storage.url}", lease: 15s }`;
  return "storage: { driver: sqlite }";
}

export function benchRelayConfig(options: BenchRelayConfig): string {
  return `
wecom: { api_base: "${options.apiBase}", timeout: 10s }
${storageYaml(options.storage)}
delivery: { coalesce_after: ${options.coalesceAfter} }
auth:
  alertmanager: { bearer_token: "${options.bearerToken}" }
targets:
  sre-robot:
    type: robot
    webhook: "${options.robotKey}"
    rate_limit: { max: ${options.rateLimit.max}, per: ${options.rateLimit.per} }
receivers:
  - name: sre
    targets: [sre-robot]
route:
  receiver: sre
  format: markdown
  routes:
    - matchers: ['source="alertmanager"', 'severity="critical"']
      receiver: sre
      format: text
      mention: ["@all"]
`;
}
