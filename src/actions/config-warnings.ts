// What `check` and a (re)load say about acting on alerts from WeCom: a config that loads
// but whose cards or links could not do what they promise.
import type { ConfigError } from "../config/errors.js";
import type { Config } from "../config/schema.js";
import type { EffectiveRoute } from "../routing/tree.js";

type At = (path: (string | number)[], message: string) => ConfigError;

export function actionWarnings(config: Config, routes: readonly EffectiveRoute[], at: At): ConfigError[] {
  const warnings: ConfigError[] = [];
  const canSilence = config.alertmanager !== undefined || config.grafana !== undefined;
  const cardRoutes = routes.filter((route) => route.format === "card");
  for (const route of cardRoutes) {
    const receiver = config.receivers.find((r) => r.name === route.receiver);
    const apps = (receiver?.targets ?? []).filter((name) => config.targets[name]?.type === "app");
    if (!canSilence) {
      warnings.push(at([...route.path, "format"], "format card needs `alertmanager:` (or `grafana:`) to create silences in; until then its alerts go out as textcards"));
    } else if (apps.length === 0) {
      warnings.push(at([...route.path, "format"], `format card: receiver "${route.receiver}" has no app target, and only app messages carry buttons; its robots get text`));
    }
    for (const name of apps) {
      const target = config.targets[name];
      if (target?.type === "app" && !target.callback) {
        warnings.push(at(["targets", name], `app "${name}" gets cards (format card) but has no callback: clicks on their buttons never reach the relay`));
      }
    }
  }
  if (config.actions?.public_url !== undefined && !canSilence) {
    warnings.push(at(["actions"], "action links are signed, but no `alertmanager:` (or `grafana:`) is configured: their pages cannot silence anything"));
  }
  return [...new Map(warnings.map((warning) => [`${warning.line}:${warning.message}`, warning])).values()];
}
