// What `serve` tells the operator at start: which targets only print (and the variable
// that makes each real), and which sources are open to anyone beyond this machine.
import { isIP } from "node:net";
import type { Config } from "./config/schema.js";

/** A listen host reachable only from this machine (undefined: every interface). */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined || host === "") return false;
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** Sources that accept requests without any credential or signature. */
export function unauthenticatedSources(auth: Config["auth"]): string[] {
  const open: string[] = [];
  const hasCredential = (a: { bearer_token?: string | undefined; basic_auth?: unknown } | undefined) =>
    a?.bearer_token !== undefined || a?.basic_auth !== undefined;
  if (!hasCredential(auth.alertmanager)) open.push("alertmanager");
  if (!hasCredential(auth.grafana) && auth.grafana?.hmac === undefined) open.push("grafana");
  if (auth.github?.secret === undefined) open.push("github");
  if (!hasCredential(auth.api) && auth.api?.jwt === undefined) open.push("api");
  return open;
}

/** The first-run banner: where messages go instead, how to send one, how to make it real. */
export function printedTargetsBanner(printed: { name: string; variables: string[] }[], baseUrl: string): string {
  const names = printed.map((target) => target.name).join(", ");
  const variables = [...new Set(printed.flatMap((target) => target.variables))];
  const real =
    variables.length > 0
      ? `${variables[0]}='https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...' npm start`
      : "give the target a webhook in the config";
  return [
    "",
    `  wecom-relay is listening on ${baseUrl}`,
    `  No WeCom robot is set for ${names}: each message is printed here as WeCom would receive it, and not sent.`,
    "",
    "  Send an example:",
    `    curl -sS -H 'Content-Type: application/json' --data-binary @examples/alertmanager-firing.json ${baseUrl}/webhook/alertmanager`,
    "",
    `  Send to a real group robot${variables.length > 1 ? ` (${variables.join(", ")})` : ""}:`,
    `    ${real}`,
    "",
  ].join("\n");
}
