import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatConfigError } from "../../src/config/errors.js";
import { loadConfigFile, parseConfig, type LoadedConfig } from "../../src/config/load.js";

const ROBOT_KEY = "693a91f6-7d3e-4bc4-97a0-0ec2afa5a1b2";
const ROBOT_WEBHOOK = `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${ROBOT_KEY}`;
const ENV = { ROBOT_WEBHOOK };

/** The smallest valid config; line N of the file is element N-1. */
const MINIMAL = [
  "targets:",
  "  sre-robot:",
  "    type: robot",
  "    webhook: ${ROBOT_WEBHOOK}",
  "receivers:",
  "  - name: sre",
  "    targets: [sre-robot]",
  "route:",
  "  receiver: sre",
];

function parse(lines: string[], env: NodeJS.ProcessEnv = ENV) {
  return parseConfig(`${lines.join("\n")}\n`, "routes.yml", env);
}

function load(lines: string[], env: NodeJS.ProcessEnv = ENV): LoadedConfig {
  const result = parse(lines, env);
  if ("errors" in result) throw new Error(`expected the config to load:\n${result.errors.map(formatConfigError).join("\n")}`);
  return result.loaded;
}

function errorsOf(lines: string[], env: NodeJS.ProcessEnv = ENV): string[] {
  const result = parse(lines, env);
  if ("loaded" in result) throw new Error("expected config errors, but the config loaded");
  return result.errors.map(formatConfigError);
}

/** MINIMAL with `lines` in place of its first `replaced` lines (the target section). */
function withTargets(lines: string[], replaced = 4): string[] {
  return [...lines, ...MINIMAL.slice(replaced)];
}

describe("parseConfig: environment variables", () => {
  it("expands references in values, with defaults", () => {
    const loaded = load(["server:", "  listen: ${LISTEN:-:9090}", "  max_body: ${MAX_BODY}", ...MINIMAL], {
      ...ENV,
      MAX_BODY: "2MiB",
    });
    expect(loaded.config.server.listen).toBe(":9090");
    expect(loaded.config.server.max_body).toBe(2 * 1024 * 1024);
    expect(loaded.config.targets["sre-robot"]).toMatchObject({ type: "robot", webhook: ROBOT_WEBHOOK });
  });

  it("uses the default of an empty variable and keeps $$ as a literal $", () => {
    const loaded = load(["templates:", "  dir: ${TEMPLATES:-/srv/templates}", "  timezone: Etc/$$UTC", ...MINIMAL], {
      ...ENV,
      TEMPLATES: "",
    });
    expect(loaded.config.templates).toEqual({ dir: "/srv/templates", timezone: "Etc/$UTC" });
  });

  it("leaves out a setting whose ${VAR:-} expands to nothing, and says which variable would set it", () => {
    const lines = ["auth:", "  alertmanager: { bearer_token: \"${AM_TOKEN:-}\" }", ...withTargets(["targets:", "  sre-robot:", "    type: robot", "    webhook: ${ROBOT_WEBHOOK:-}"])];
    const loaded = load(lines, {});
    expect(loaded.config.auth.alertmanager).toEqual({});
    expect(loaded.config.targets["sre-robot"]).toEqual({ type: "robot", rate_limit: { max: 20, per: 60_000 } });
    expect(loaded.unset).toEqual([
      { path: ["auth", "alertmanager", "bearer_token"], variables: ["AM_TOKEN"] },
      { path: ["targets", "sre-robot", "webhook"], variables: ["ROBOT_WEBHOOK"] },
    ]);
  });

  it("keeps a setting whose ${VAR:-} variable is set", () => {
    const loaded = load(withTargets(["targets:", "  sre-robot:", "    type: robot", "    webhook: ${ROBOT_WEBHOOK:-}"]));
    expect(loaded.config.targets["sre-robot"]).toEqual({ type: "robot", webhook: ROBOT_WEBHOOK, rate_limit: { max: 20, per: 60_000 } });
    expect(loaded.unset).toEqual([]);
  });

  it("names the empty variable when the setting it left out is required", () => {
    const lines = withTargets(["targets:", "  ops-app:", "    type: app", "    corp_id: ww1", "    secret: ${APP_SECRET:-}", "    agent_id: 1", "    to_user: [a]"], 4);
    expect(errorsOf(lines, { APP_SECRET: "" })).toEqual([
      "routes.yml:2: targets.ops-app.secret: is required (APP_SECRET is empty or not set)",
    ]);
  });

  it("reports a missing variable by name at the line of its value", () => {
    expect(errorsOf(MINIMAL, {})).toEqual([
      "routes.yml:4: targets.sre-robot.webhook: environment variable ROBOT_WEBHOOK is not set (use ${ROBOT_WEBHOOK:-default} for a default)",
    ]);
  });

  it("reports every missing variable, each at its own line", () => {
    const lines = [
      "auth:",
      "  alertmanager: { bearer_token: ${AM_TOKEN} }",
      "  github: { secret: '${GH_SECRET}' }",
      "server:",
      '  listen: "${HOST}:${PORT}"',
      ...MINIMAL,
    ];
    expect(errorsOf(lines, { ...ENV, HOST: "0.0.0.0" })).toEqual([
      "routes.yml:2: auth.alertmanager.bearer_token: environment variable AM_TOKEN is not set (use ${AM_TOKEN:-default} for a default)",
      "routes.yml:3: auth.github.secret: environment variable GH_SECRET is not set (use ${GH_SECRET:-default} for a default)",
      "routes.yml:5: server.listen: environment variable PORT is not set (use ${PORT:-default} for a default)",
    ]);
  });

  it("reports a missing variable once, even where the schema would also reject the empty value", () => {
    const lines = withTargets(["targets:", "  sre-robot:", "    type: ${TARGET_TYPE}", "    webhook: ${ROBOT_WEBHOOK}"]);
    expect(errorsOf(lines)).toEqual([
      "routes.yml:3: targets.sre-robot.type: environment variable TARGET_TYPE is not set (use ${TARGET_TYPE:-default} for a default)",
    ]);
  });

  it("reports a malformed reference without echoing what follows the name", () => {
    expect(errorsOf(["auth:", "  api: { bearer_token: ${API_TOKEN:s3cr3t-default} }", ...MINIMAL])).toEqual([
      "routes.yml:2: auth.api.bearer_token: malformed variable reference to API_TOKEN: use ${NAME} or ${NAME:-default}",
    ]);
  });

  it("reads an unquoted reference as YAML would read its value, so agent_id becomes a number", () => {
    const lines = withTargets([
      "targets:",
      "  ops-app:",
      "    type: app",
      "    corp_id: ${CORP_ID}",
      "    secret: ${APP_SECRET}",
      "    agent_id: ${AGENT_ID}",
      "receivers:",
      "  - name: sre",
      "    targets: [ops-app]",
    ], 7);
    const loaded = load(lines, { CORP_ID: "ww7a8b9c", APP_SECRET: "app-secret-0123456789", AGENT_ID: "1000002" });
    expect(loaded.config.targets["ops-app"]).toMatchObject({ corp_id: "ww7a8b9c", agent_id: 1000002 });
  });

  it("keeps a quoted reference a string even when its value looks like a number", () => {
    const lines = withTargets([
      "targets:",
      "  ops-app:",
      "    type: app",
      '    corp_id: "${CORP_ID}"',
      "    secret: '${APP_SECRET}'",
      "    agent_id: 1000002",
      "receivers:",
      "  - name: sre",
      "    targets: [ops-app]",
    ], 7);
    const loaded = load(lines, { CORP_ID: "12345", APP_SECRET: "987654321" });
    expect(loaded.config.targets["ops-app"]).toMatchObject({ corp_id: "12345", secret: "987654321" });
  });

  it("reads an unquoted boolean from a variable as a boolean", () => {
    const loaded = load([...MINIMAL, "  continue: ${CONTINUE}"], { ...ENV, CONTINUE: "true" });
    expect(loaded.config.route.continue).toBe(true);
  });

  it("explains that a value read as a number needs quotes where text is expected", () => {
    expect(errorsOf(["server:", "  listen: ${PORT}", ...MINIMAL], { ...ENV, PORT: "8080" })).toEqual([
      "routes.yml:2: server.listen: expected a string, got an integer (quote the value to keep it as text)",
    ]);
  });

  it("never lets an expanded value add YAML structure", () => {
    const loaded = load(["templates:", "  dir: ${DIR}", ...MINIMAL], { ...ENV, DIR: "x\nwecom: { api_base: http://evil }" });
    expect(loaded.config.templates.dir).toBe("x\nwecom: { api_base: http://evil }");
    expect(loaded.config.wecom.api_base).toBe("https://qyapi.weixin.qq.com");
  });

  it("loads the SPEC example, whose references sit inside flow maps", () => {
    const specEnv = {
      AM_TOKEN: "am-token-value",
      GRAFANA_PASS: "grafana-pass",
      GITHUB_WEBHOOK_SECRET: "gh-hook-secret",
      RELAY_API_TOKEN: "relay-api-token",
      WECOM_SRE_ROBOT: ROBOT_WEBHOOK,
      WECOM_CORP_ID: "ww0123456789",
      WECOM_APP_SECRET: "app-secret-value",
      WECOM_CB_TOKEN: "cb-token-value",
      WECOM_CB_AES_KEY: "k".repeat(43),
    };
    const result = loadConfigFile(fixture("spec-example.yml"), specEnv);
    if ("errors" in result) throw new Error(result.errors.map(formatConfigError).join("\n"));
    const { config } = result.loaded;
    expect(config.auth.alertmanager).toEqual({ bearer_token: "am-token-value" });
    expect(config.auth.grafana).toEqual({ basic_auth: { username: "grafana", password: "grafana-pass" } });
    expect(config.targets["ops-app"]).toMatchObject({ agent_id: 1000002, callback: { token: "cb-token-value" } });
    expect(config.route.routes?.[1]).toMatchObject({ mention: ["@all"], continue: true });
  });
});

describe("parseConfig: YAML syntax", () => {
  it("reports every syntax error with its line", () => {
    const lines = ["server:", "  listen: :80 : x", "wecom:", "  - api_base", "  timeout: 5s", ...MINIMAL];
    expect(errorsOf(lines)).toEqual([
      "routes.yml:2: Nested mappings are not allowed in compact mappings",
      "routes.yml:5: All mapping items must start at the same column",
    ]);
  });

  it("rejects a duplicate key at the line of its second appearance, naming it", () => {
    expect(errorsOf(["server:", "  listen: :80", "  listen: :81", ...MINIMAL])).toEqual([
      'routes.yml:3: server: duplicate key "listen"',
    ]);
  });

  it("reports an alias whose anchor is missing", () => {
    expect(errorsOf([...MINIMAL, "  matchers: *common"])).toEqual([
      "routes.yml:10: unknown alias *common (its anchor &common must come before it)",
    ]);
  });

  it("reports an empty file as such", () => {
    expect(errorsOf(["# nothing here yet"])).toEqual(["routes.yml: the config is empty"]);
  });
});

describe("parseConfig: schema", () => {
  it("names an unknown key at its line, with the keys allowed there", () => {
    expect(errorsOf(["server:", "  lisen: :8080", ...MINIMAL])).toEqual([
      'routes.yml:2: server.lisen: unknown key "lisen" (allowed: listen, max_body, rate_limit, trust_proxy, allow, deny, max_buffered, max_connections, header_timeout, request_timeout, keep_alive_timeout)',
    ]);
  });

  it("reports a value of the wrong type at its line", () => {
    expect(errorsOf([...MINIMAL, "  continue: [yes]"])).toEqual([
      "routes.yml:10: route.continue: expected true or false, got a list",
    ]);
  });

  it("reports a bad duration with its text and line", () => {
    const lines = withTargets([
      "targets:",
      "  sre-robot:",
      "    type: robot",
      "    webhook: ${ROBOT_WEBHOOK}",
      "    rate_limit: { max: 20, per: 5 minutes }",
    ]);
    expect(errorsOf(lines)).toEqual([
      'routes.yml:5: targets.sre-robot.rate_limit.per: invalid duration "5 minutes" (use e.g. 30s, 5m, 1h30m)',
    ]);
  });

  it("reports a missing required key at the line of the map that lacks it", () => {
    expect(errorsOf(withTargets(["targets:", "  sre-robot:", "    type: app", "    corp_id: ww1", "    agent_id: 1", "    to_user: [a]"]))).toEqual([
      "routes.yml:2: targets.sre-robot.secret: is required",
    ]);
  });

  it("says which target types exist when the type is unknown", () => {
    expect(errorsOf(withTargets(["targets:", "  sre-robot:", "    type: bot", "    webhook: ${ROBOT_WEBHOOK}"]))).toEqual([
      "routes.yml:3: targets.sre-robot: type must be robot, app or log",
    ]);
  });

  it("explains an unknown auth key, a missing password, and an auth block with both forms", () => {
    const lines = [
      "auth:",
      "  alertmanager: { token: abc }",
      "  grafana: { basic_auth: { username: grafana } }",
      "  api: { bearer_token: one-token, basic_auth: { username: u, password: other-pass } }",
      ...MINIMAL,
    ];
    expect(errorsOf(lines)).toEqual([
      'routes.yml:2: auth.alertmanager.token: unknown key "token" (allowed: bearer_token, basic_auth, allow, deny)',
      "routes.yml:3: auth.grafana.basic_auth.password: is required",
      "routes.yml:4: auth.api: use bearer_token or basic_auth, not both",
    ]);
  });

  it("names both accepted forms of app recipients", () => {
    const lines = withTargets([
      "targets:",
      "  ops-app: { type: app, corp_id: ww1, secret: app-secret, agent_id: 1, to_user: 42 }",
      "receivers:",
      "  - name: sre",
      "    targets: [ops-app]",
    ], 7);
    expect(errorsOf(lines)).toEqual(['routes.yml:2: targets.ops-app.to_user: expected "@all" or a list, got an integer']);
  });

  it("reports several errors at once, in line order", () => {
    const lines = [
      "server:",
      "  max_body: lots",
      "  rate_limit: { per_ip: 0, per: 1s }",
      "targets:",
      "  sre-robot:",
      "    type: robot",
      "    webhook: ${ROBOT_WEBHOOK}",
      "    extra: 1",
      "receivers: []",
      "route:",
      "  format: html",
      "  routes:",
      "    - template: a/b",
    ];
    expect(errorsOf(lines)).toEqual([
      'routes.yml:2: server.max_body: invalid size "lots" (use e.g. 1MiB, 512KB, 65536)',
      "routes.yml:3: server.rate_limit.per_ip: must be greater than 0",
      'routes.yml:8: targets.sre-robot.extra: unknown key "extra" (allowed: type, webhook, rate_limit)',
      "routes.yml:9: receivers: must have at least 1 item",
      "routes.yml:11: route.format: must be text, markdown, textcard or card",
      "routes.yml:13: route.routes[0].template: template names may use letters, digits, _ - only",
    ]);
  });

  it("reports a missing variable and unrelated schema errors together, without a second error for the same value", () => {
    expect(errorsOf(["server:", "  max_body: lots", ...MINIMAL], {})).toEqual([
      'routes.yml:2: server.max_body: invalid size "lots" (use e.g. 1MiB, 512KB, 65536)',
      "routes.yml:6: targets.sre-robot.webhook: environment variable ROBOT_WEBHOOK is not set (use ${ROBOT_WEBHOOK:-default} for a default)",
    ]);
  });

  it("rejects a list where the config should be a map", () => {
    expect(errorsOf(["- server", "- route"])).toEqual(["routes.yml:1: expected a map, got a list"]);
  });
});

describe("parseConfig: references between sections", () => {
  it("rejects a receiver name used twice, pointing at the first", () => {
    const lines = [...MINIMAL.slice(0, 7), "  - name: sre", "    targets: [sre-robot]", ...MINIMAL.slice(7)];
    expect(errorsOf(lines)).toEqual(['routes.yml:8: receivers[1].name: duplicate receiver name "sre" (first defined at line 6)']);
  });

  it("rejects a receiver that names an unknown target, at the line of that name", () => {
    const lines = [...MINIMAL.slice(0, 6), "    targets:", "      - sre-robot", "      - ops-robot", ...MINIMAL.slice(7)];
    expect(errorsOf(lines)).toEqual([
      'routes.yml:9: receivers[0].targets[1]: unknown target "ops-robot" (defined targets: sre-robot)',
    ]);
  });

  it("requires at least one target", () => {
    expect(errorsOf(["targets: {}", ...MINIMAL.slice(4)])).toEqual([
      "routes.yml:1: targets: at least one target is required",
      'routes.yml:4: receivers[0].targets[0]: unknown target "sre-robot"',
    ]);
  });

  it("warns about a target that no receiver uses, and still loads", () => {
    const lines = withTargets([...MINIMAL.slice(0, 4), "  spare-robot:", "    type: robot", "    webhook: spare-robot-key-1234"]);
    const loaded = load(lines);
    expect(loaded.warnings.map(formatConfigError)).toEqual([
      'routes.yml:5: targets.spare-robot: target "spare-robot" is not used by any receiver',
    ]);
  });
});

describe("parseConfig: secrets", () => {
  it("collects every secret value, and the key of a full robot webhook URL", () => {
    const lines = [
      "auth:",
      "  alertmanager: { bearer_token: am-bearer-token }",
      "  grafana: { basic_auth: { username: grafana, password: grafana-password } }",
      "  github: { secret: github-hook-secret }",
      "  api: { jwt: { secret: jwt-hmac-secret-0123456789abcdef-xyz, issuer: idp, audience: relay }, allow: [10.0.0.0/8] }",
      "tracing: { otlp_endpoint: 'https://tenant:otlp-password@tempo.example.com' }",
      "targets:",
      "  sre-robot: { type: robot, webhook: '${ROBOT_WEBHOOK}' }",
      "  key-robot: { type: robot, webhook: bare-robot-key-5678 }",
      "  ops-app:",
      "    type: app",
      "    corp_id: ww0123",
      "    secret: app-secret-value",
      "    agent_id: 1000002",
      `    callback: { token: callback-token, aes_key: ${"a".repeat(43)} }`,
      "alertmanager: { url: 'http://relay:am-url-password@alertmanager:9093' }",
      "grafana: { url: 'https://grafana.example.com', token: glsa_grafana-token }",
      "actions: { public_url: 'https://relay.example.com', secret: action-link-secret-0123 }",
      "receivers:",
      "  - name: sre",
      "    targets: [sre-robot, key-robot, ops-app]",
      "route:",
      "  receiver: sre",
    ];
    const { secrets } = load(lines);
    expect([...secrets].sort()).toEqual(
      [
        "am-bearer-token",
        "grafana-password",
        "github-hook-secret",
        ROBOT_WEBHOOK,
        ROBOT_KEY,
        "bare-robot-key-5678",
        "app-secret-value",
        "callback-token",
        "a".repeat(43),
        "am-url-password",
        "glsa_grafana-token",
        "action-link-secret-0123",
        "jwt-hmac-secret-0123456789abcdef-xyz",
        "otlp-password",
      ].sort(),
    );
    expect(secrets).not.toContain("grafana");
    expect(secrets).not.toContain("https://relay.example.com");
    expect(secrets).not.toContain("ww0123");
  });

  it("lists secrets longest first, so a redactor never leaves part of a longer one", () => {
    const { secrets } = load(MINIMAL);
    expect(secrets).toEqual([ROBOT_WEBHOOK, ROBOT_KEY]);
  });

  it("never puts a secret into an error message, wherever it was misplaced", () => {
    const appSecret = "app-secret-4f9c2d7e1b";
    const env = { ROBOT_WEBHOOK, ROBOT_KEY, APP_SECRET: appSecret };
    const lines = [
      "server:",
      '  max_body: "${APP_SECRET}"',
      "wecom:",
      "  timeout: ${ROBOT_KEY}",
      "targets:",
      "  sre-robot:",
      "    type: robot",
      "    webhook: ${ROBOT_WEBHOOK}",
      "    rate_limit: { max: 20, per: '${ROBOT_WEBHOOK}' }",
      "  ops-app:",
      "    type: app",
      "    corp_id: ${ROBOT_KEY}",
      "    secret: ${APP_SECRET}",
      "    agent_id: ${APP_SECRET}",
      "    to_user: ${APP_SECRET}",
      "    callback: { token: '${APP_SECRET}', aes_key: ${APP_SECRET} }",
      "    ${APP_SECRET}: oops",
      "receivers:",
      "  - name: sre",
      "    targets: [sre-robot, ops-app]",
      "route:",
      "  receiver: sre",
    ];
    const errors = errorsOf(lines, env);
    expect(errors.length).toBeGreaterThanOrEqual(6);
    for (const error of errors) {
      expect(error).not.toContain(appSecret);
      expect(error).not.toContain(ROBOT_KEY);
    }
    expect(errors).toContain('routes.yml:2: server.max_body: invalid size "[REDACTED]" (use e.g. 1MiB, 512KB, 65536)');
    expect(errors).toContain('routes.yml:4: wecom.timeout: invalid duration "[REDACTED]" (use e.g. 30s, 5m, 1h30m)');
  });

  it("scrubs a short secret where it stands alone without garbling the words around it", () => {
    const lines = ["auth:", "  grafana: { basic_auth: { username: grafana, password: pw } }", "wecom:", "  timeout: pw", ...MINIMAL];
    expect(errorsOf(lines)).toEqual(['routes.yml:4: wecom.timeout: invalid duration "[REDACTED]" (use e.g. 30s, 5m, 1h30m)']);
  });
});

describe("parseConfig: defaults", () => {
  it("fills the defaults the SPEC promises, WeCom's own robot limit included", () => {
    const { config } = load(MINIMAL);
    expect(config.server.listen).toBe(":8080");
    expect(config.server.max_body).toBe(1048576);
    expect(config.wecom.api_base).toBe("https://qyapi.weixin.qq.com");
    expect(config.targets["sre-robot"]).toHaveProperty("rate_limit", { max: 20, per: 60_000 });
  });
});

describe("LoadedConfig.lineOf", () => {
  const lines = [
    ...MINIMAL,
    "  routes:",
    "    - receiver: sre",
    "    - matchers:",
    "        - severity=critical",
    "        - team=db",
    "      receiver: &dba sre",
    "      routes:",
    "        - receiver: sre",
  ];
  const loaded = load(lines);

  it.each<[string, (string | number)[], number | undefined]>([
    ["a nested list item", ["route", "routes", 1, "matchers", 1], 14],
    ["a key inside a list item", ["route", "routes", 1, "receiver"], 15],
    ["a deeply nested route", ["route", "routes", 1, "routes", 0, "receiver"], 17],
    ["a list item that is a map", ["receivers", 0], 6],
    ["an item of a flow list", ["receivers", 0, "targets", 0], 7],
    ["a key missing from the file, via its nearest ancestor", ["targets", "sre-robot", "rate_limit", "per"], 2],
    ["an index past the end, via the list", ["route", "routes", 5, "receiver"], 10],
    ["a defaulted section, via the root", ["server", "listen"], 1],
    ["the root", [], 1],
  ])("finds %s", (_name, path, line) => {
    expect(loaded.lineOf(path)).toBe(line);
  });
});

describe("loadConfigFile", () => {
  it("names the file and the reason when it cannot be read", () => {
    const missing = fixture("does-not-exist.yml");
    expect(loadConfigFile(missing, ENV)).toEqual({
      errors: [{ file: missing, path: [], message: "cannot read the config file: no such file or directory (ENOENT)" }],
    });
  });

  it("reports a directory given as the config file", () => {
    const folder = fixture("");
    const result = loadConfigFile(folder, ENV);
    expect("errors" in result && result.errors.map(formatConfigError)).toEqual([
      `${folder}: cannot read the config file: illegal operation on a directory (EISDIR)`,
    ]);
  });
});

function fixture(name: string): string {
  return fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));
}
