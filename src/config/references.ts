// The checks across sections that the schema cannot express, run once it passed: receiver
// names, the targets receivers use, and targets no receiver uses.
import type { ConfigPath } from "./errors.js";
import type { Problem } from "./problem.js";
import type { Config } from "./schema.js";

export function checkReferences(
  config: Config,
  lineOf: (path: ConfigPath) => number | undefined,
): { errors: Problem[]; warnings: Problem[] } {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const targetNames = Object.keys(config.targets);
  if (targetNames.length === 0) errors.push({ path: ["targets"], message: "at least one target is required" });

  const firstByName = new Map<string, number>();
  config.receivers.forEach((receiver, index) => {
    const first = firstByName.get(receiver.name);
    if (first === undefined) {
      firstByName.set(receiver.name, index);
    } else {
      const firstLine = lineOf(["receivers", first, "name"]);
      const where = firstLine === undefined ? `receivers[${first}]` : `line ${firstLine}`;
      errors.push({ path: ["receivers", index, "name"], message: `duplicate receiver name "${receiver.name}" (first defined at ${where})` });
    }
    receiver.targets.forEach((target, position) => {
      if (Object.hasOwn(config.targets, target)) return;
      const known = targetNames.length > 0 ? ` (defined targets: ${targetNames.join(", ")})` : "";
      errors.push({ path: ["receivers", index, "targets", position], message: `unknown target "${target}"${known}` });
    });
  });

  const used = new Set(config.receivers.flatMap((receiver) => receiver.targets));
  for (const name of targetNames) {
    if (!used.has(name)) warnings.push({ path: ["targets", name], message: `target "${name}" is not used by any receiver` });
  }
  return { errors, warnings };
}
