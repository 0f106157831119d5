import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { packageRoot } from "../src/paths.js";
import { loadRelay } from "../src/app.js";
import { warmUp } from "../src/warm-up.js";

describe("warm-up before ready", () => {
  it("parses, routes and renders every shipped example once, sending nothing", () => {
    const built = loadRelay(join(packageRoot(), "routes.yml"), {});
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const render = vi.spyOn(built.relay.templates, "render");
    const rendered = warmUp(built.relay);
    // Alertmanager (firing and resolved), Grafana (both) and four GitHub events.
    expect(rendered).toBeGreaterThanOrEqual(8);
    const templates = new Set(render.mock.calls.map(([name, format]) => `${name}.${format}`));
    expect(templates).toEqual(new Set(["alertmanager.text", "alertmanager.markdown", "grafana.markdown", "github.markdown"]));
  });
});
