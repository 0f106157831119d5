// Locates the real Prometheus tools (Prometheus, promtool, Alertmanager) that end-to-end tests run. CI installs them
// (.ci/run) and sets WECOM_RELAY_REQUIRE_E2E=1, so there a missing tool fails the run
// instead of skipping.
import { existsSync } from "node:fs";

const CANDIDATES: Record<string, string[]> = {
  alertmanager: ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager", "/usr/local/bin/alertmanager"],
  promtool: ["/usr/bin/promtool", "/usr/local/bin/promtool"],
  prometheus: ["/usr/bin/prometheus", "/usr/local/bin/prometheus"],
};

/** The Debian package each tool comes in. */
const PACKAGES: Record<string, string> = { alertmanager: "prometheus-alertmanager", promtool: "prometheus", prometheus: "prometheus" };

export function findBinary(name: "alertmanager" | "promtool" | "prometheus"): string | undefined {
  const found = CANDIDATES[name]!.find((path) => existsSync(path));
  if (!found && process.env.WECOM_RELAY_REQUIRE_E2E === "1") {
    throw new Error(`${name} is required (apt-get install ${PACKAGES[name]})`);
  }
  return found;
}
