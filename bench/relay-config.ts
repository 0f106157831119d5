// The relay config the benchmarks run with: shaped like the shipped routes.yml (auth, a
// critical-alerts child route with a text mention), one robot target on the fake WeCom.

export interface BenchRelayConfig {
  /** The fake WeCom's base URL. */
  apiBase: string;
  robotKey: string;
  /** e.g. { max: 20, per: "1s" } */
  rateLimit: { max: number; per: string };
  coalesceAfter: string;
  bearerToken: string;
}

export function benchRelayConfig(options: BenchRelayConfig): string {
  return `
wecom: { api_base: "${options.apiBase}", timeout: 10s }
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
