// A real browser for page tests: Debian's Chromium driven by playwright-core, which never
// downloads a browser of its own. CI installs chromium (.ci/run) and sets
// WECOM_RELAY_REQUIRE_E2E=1, so there a missing browser fails the run instead of skipping.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium"];

export function findChromium(): string | undefined {
  const found = CANDIDATES.find((path) => existsSync(path));
  if (!found && process.env.WECOM_RELAY_REQUIRE_E2E === "1") {
    throw new Error("chromium is required (apt-get install chromium)");
  }
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("chromium not found (apt-get install chromium)");
  return chromium.launch({
    executablePath,
    // The background-networking flags matter: on a closed network Chromium's own update,
    // sync and QUIC probes otherwise end with the test's connections being refused.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
