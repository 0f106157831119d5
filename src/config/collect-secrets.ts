// Secret values in the config, collected for log redaction and to scrub them from every
// message the config produces.
import { isObject } from "./problem.js";
import { robotKey } from "./robot-webhook.js";

const SECRET_KEYS = new Set(["webhook", "secret", "bearer_token", "password", "token", "aes_key"]);

/** Values of secret-named keys anywhere in `value`, plus the key of a full robot webhook URL; longest first. */
export function collectSecrets(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isObject(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if ((key.endsWith("url") || key.endsWith("endpoint")) && typeof child === "string" && URL.canParse(child)) {
        // A URL may carry a password (a database's always does): the password is a secret,
        // and so is the whole database URL.
        if (/^postgres(ql)?:\/\//.test(child)) found.add(child);
        const password = decodeURIComponent(new URL(child).password);
        if (password !== "") found.add(password);
      } else if (SECRET_KEYS.has(key) && typeof child === "string" && child !== "") {
        found.add(child);
        if (key === "webhook") {
          const webhookKey = keyOf(child);
          if (webhookKey) found.add(webhookKey);
        }
      } else {
        visit(child);
      }
    }
  };
  visit(value);
  return [...found].sort((a, b) => b.length - a.length);
}

/** The robot key inside a webhook value, when it has one (a bad value is reported elsewhere). */
function keyOf(webhook: string): string | undefined {
  try {
    return robotKey(webhook);
  } catch {
    return undefined;
  }
}
