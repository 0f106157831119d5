import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Relay } from "../../src/relay.js";
import { TokenCache } from "../../src/channels/wecom/token.js";

const APP = "{ type: app, corp_id: ww1, secret: app-secret-0123, agent_id: 1000002, to_user: [zhangsan] }";
const CALLBACK = `callback: { token: cb-token, aes_key: ${"a".repeat(43)} }`;

function warningsOf(yaml: string): string[] {
  const loaded = parseConfig(yaml, "routes.yml", {});
  if ("errors" in loaded) throw new Error(JSON.stringify(loaded.errors));
  const built = Relay.build(loaded.loaded, { tokens: new TokenCache() });
  if ("errors" in built) throw new Error(JSON.stringify(built.errors));
  return built.relay.warnings.map((warning) => `${warning.line ?? "-"}: ${warning.message}`);
}

describe("warnings about acting on alerts from WeCom", () => {
  it("says a card route has no Alertmanager to silence in", () => {
    const warnings = warningsOf(`targets:\n  app: ${APP.replace("}", `, ${CALLBACK} }`)}\nreceivers:\n  - { name: sre, targets: [app] }\nroute:\n  receiver: sre\n  format: card\n`);
    expect(warnings).toEqual([expect.stringMatching(/^7: format card needs `alertmanager:`/)]);
  });

  it("says an app that gets cards has no callback, and a card receiver without an app", () => {
    const warnings = warningsOf(
      `alertmanager: { url: "http://am:9093" }\ntargets:\n  app: ${APP}\n  robot: { type: robot, webhook: robot-key-0123 }\nreceivers:\n  - { name: sre, targets: [app] }\n  - { name: chat, targets: [robot] }\nroute:\n  receiver: sre\n  format: card\n  routes:\n    - { receiver: chat, matchers: ['team="db"'] }\n`,
    );
    expect(warnings).toContain('3: app "app" gets cards (format card) but has no callback: clicks on their buttons never reach the relay');
    expect(warnings.some((w) => w.includes('receiver "chat" has no app target'))).toBe(true);
  });

  it("says signed links cannot silence without an Alertmanager, and nothing for a complete config", () => {
    const links = "actions: { public_url: 'https://relay.example.com', secret: action-secret-0123456789 }\n";
    const base = `targets:\n  app: ${APP.replace("}", `, ${CALLBACK} }`)}\nreceivers:\n  - { name: sre, targets: [app] }\nroute:\n  receiver: sre\n  format: card\n`;
    expect(warningsOf(links + base).some((w) => w.includes("their pages cannot silence anything"))).toBe(true);
    expect(warningsOf(`alertmanager: { url: "http://am:9093" }\n${links}${base}`)).toEqual([]);
  });
});
