// The stages built from one loaded config: routes, templates, channels. A Relay is
// immutable; a reload builds a new one and swaps it in. The process-long parts around it
// (outbox, delivery engine, HTTP) are built once, in app.ts.
import { createHash } from "node:crypto";
import { isAbsolute, resolve, dirname } from "node:path";
import { actionWarnings } from "./actions/config-warnings.js";
import { eventActions } from "./actions/event-actions.js";
import type { ActionGroup } from "./actions/group.js";
import { createAppChannel } from "./channels/wecom/app.js";
import { createLogChannel } from "./channels/log.js";
import { createRobotChannel, robotEndpoint } from "./channels/wecom/robot.js";
import type { TokenCache } from "./channels/wecom/token.js";
import type { ConfigError } from "./config/errors.js";
import type { LoadedConfig } from "./config/load.js";
import type { Config, RateLimit, RouteNodeConfig } from "./config/schema.js";
import { redactSecrets } from "./redact.js";
import type { DigestRenderer } from "./delivery/coalesce.js";
import type { TargetRuntime } from "./delivery/dispatcher.js";
import { byteLimit, type ChannelKind } from "./wecom-limits.js";
import type { Metrics } from "./metrics.js";
import { neutralizeMentions, renderMessages, type RenderTarget } from "./render/render.js";
import { loadTemplates, shippedTemplatesDir, type TemplateSet } from "./render/templates.js";
import { compileRouteTree, type EffectiveRoute, type RouteTree } from "./routing/tree.js";
import type { Event, Format, Match, Message, MessageType } from "./types.js";


export interface RelayDeps {
  tokens: TokenCache;
  metrics?: Metrics;
}

export interface Routed {
  event: Event;
  matches: Match[];
  messages: Message[];
  /** Template errors at render time (the message was still sent, in plain form). */
  fallbacks: { template: string; error: string }[];
  /** The alert group to keep for actions from WeCom, when the config acts on alerts. */
  group?: ActionGroup;
}

export class Relay {
  private constructor(
    readonly loaded: LoadedConfig,
    readonly routes: RouteTree,
    readonly templates: TemplateSet,
    readonly targets: Map<string, TargetRuntime & { kind: ChannelKind }>,
    /** Config that loads but may not do what was meant; logged on (re)load, printed by check. */
    readonly warnings: ConfigError[],
  ) {}

  get config(): Config {
    return this.loaded.config;
  }

  /**
   * Builds every stage for `loaded`, or reports every error with file and line. `deps`
   * outlive reloads: the token cache is shared by every app target of every config.
   */
  static build(loaded: LoadedConfig, deps: RelayDeps): { relay: Relay } | { errors: ConfigError[] } {
    const { config, file } = loaded;
    const errors: ConfigError[] = [];
    const at = errorAt(file, loaded);

    const { compiled, loadedTemplates } = checkRoutesAndTemplates(
      config.route,
      config.receivers.map((r) => r.name),
      config.templates,
      file,
      at,
      errors,
    );

    const targets = new Map<string, TargetRuntime & { kind: ChannelKind }>();
    for (const [name, target] of Object.entries(config.targets)) {
      try {
        targets.set(name, buildTarget(name, target, config, deps));
      } catch (err) {
        errors.push(at(["targets", name], (err as Error).message));
      }
    }
    shareStrictestPace(targets);

    if (errors.length > 0 || "errors" in compiled || "errors" in loadedTemplates) return { errors };
    const warnings = [...loaded.warnings, ...routeWarnings(compiled.routes, at), ...printedTargetWarnings(loaded, at), ...actionWarnings(config, compiled.routes, at)];
    return { relay: new Relay(loaded, compiled.tree, loadedTemplates.templates, targets, warnings) };
  }

  /** Routes and renders one event into the messages to queue. */
  route(event: Event): Routed {
    return this.render(event, this.routes.match(event.labels));
  }

  /** Renders an event for matches decided elsewhere (the API names its receiver). */
  render(event: Event, matches: Match[]): Routed {
    const messages: Message[] = [];
    const fallbacks: Routed["fallbacks"] = [];
    const actions = eventActions(event, this.config, Date.now());
    // Templates see the action page's link as `actionsUrl`.
    const shown = actions?.actionsUrl === undefined ? event : { ...event, data: { ...event.data, actionsUrl: actions.actionsUrl } };
    for (const match of matches) {
      const receiver = this.receiver(match.receiver);
      if (!receiver) continue; // compileRouteTree guarantees route receivers exist
      const renderTargets: RenderTarget[] = receiver.targets.map((name) => ({ name, kind: this.targets.get(name)!.kind }));
      const rendered = renderMessages(shown, match, renderTargets, this.templates, actions?.card);
      messages.push(...rendered.messages);
      if (rendered.fallback !== undefined) fallbacks.push({ template: match.template, error: rendered.fallback });
    }
    return { event, matches, messages, fallbacks, ...(actions && { group: actions.group }) };
  }

  /** Targets that print instead of sending, with the variables that would make each real. */
  printedTargets(): { name: string; variables: string[] }[] {
    return printedTargets(this.loaded);
  }

  /** Callback credentials of an app target that has a callback configured. */
  callbackCredentials(target: string): { token: string; aesKey: string; corpId: string } | undefined {
    const config = this.config.targets[target];
    if (config?.type !== "app" || !config.callback) return undefined;
    return { token: config.callback.token, aesKey: config.callback.aes_key, corpId: config.corp_id };
  }

  receiver(name: string): Config["receivers"][number] | undefined {
    return this.config.receivers.find((r) => r.name === name);
  }

  receiverThrottles(): Map<string, RateLimit> {
    return new Map(this.config.receivers.flatMap((r) => (r.throttle ? [[r.name, r.throttle] as const] : [])));
  }

  /** Digests are rendered with the "digest" template in the digest's format. */
  readonly renderDigest: DigestRenderer = (items, context) =>
    this.templates.render("digest", context.msgtype, {
      count: items.length,
      receiver: context.receiver,
      target: context.target,
      // Summaries come from payloads: in markdown they must not ping anyone either.
      items: items.map((item) => ({
        summary: context.msgtype === "markdown" ? neutralizeMentions(item.summary) : item.summary,
        at: new Date(item.at).toISOString(),
      })),
    });
}

/**
 * Pins an error to its config line. Route and template errors may quote config text, and
 * a secret can sit anywhere in it, so messages are scrubbed.
 */
function errorAt(file: string, source: { secrets: string[]; lineOf(path: (string | number)[]): number | undefined }) {
  return (path: (string | number)[], message: string): ConfigError => {
    const line = source.lineOf(path);
    return { file, path, message: redactSecrets(message, source.secrets), ...(line !== undefined && { line }) };
  };
}

/**
 * Compiles the routing tree and the templates, and checks that every template a route
 * names exists in its format; errors are appended to `errors`.
 */
function checkRoutesAndTemplates(
  route: RouteNodeConfig,
  receivers: readonly string[],
  templates: { dir: string; timezone: string },
  file: string,
  at: (path: (string | number)[], message: string) => ConfigError,
  errors: ConfigError[],
) {
  const compiled = compileRouteTree(route, new Set(receivers));
  if ("errors" in compiled) errors.push(...compiled.errors.map((e) => at(e.path, e.message)));

  const templateDir = isAbsolute(templates.dir) ? templates.dir : resolve(dirname(file), templates.dir);
  const loadedTemplates = loadTemplates({ dirs: [shippedTemplatesDir(), templateDir], timezone: templates.timezone });
  if ("errors" in loadedTemplates) {
    for (const e of loadedTemplates.errors) {
      // A bad time zone is a config value, not a template file: point at its line.
      if ("setting" in e) errors.push(at(["templates", e.setting], e.message));
      else errors.push({ file: e.file, path: [], message: at([], e.message).message, ...(e.line !== undefined && { line: e.line }) });
    }
  } else {
    for (const use of templateUses(compiled.routes)) {
      if (!loadedTemplates.templates.has(use.template, use.format)) {
        const expected = `${use.template}.${use.format === "markdown" ? "md" : "txt"}.hbs`;
        errors.push(at([...use.path, "template"], `no template "${use.template}" for format ${use.format} (expected ${expected} in ${templateDir} or the shipped templates)`));
      }
    }
  }
  return { compiled, loadedTemplates };
}

/**
 * Route and template errors of a config that failed validation, as far as its raw data
 * allows, so one `check` run shows them with the schema errors. Errors under a path the
 * schema already reported are left out; a shape too broken to walk adds nothing.
 */
export function bestEffortErrors(
  partial: { data: unknown; secrets: string[]; lineOf(path: (string | number)[]): number | undefined },
  file: string,
  reported: readonly ConfigError[],
): ConfigError[] {
  const raw = (partial.data ?? {}) as Record<string, unknown>;
  const route = raw.route;
  if (typeof route !== "object" || route === null) return [];
  const receivers = Array.isArray(raw.receivers)
    ? raw.receivers.flatMap((r: unknown) => (typeof (r as { name?: unknown })?.name === "string" ? [(r as { name: string }).name] : []))
    : [];
  const rawTemplates = (typeof raw.templates === "object" && raw.templates) || {};
  const templates = {
    dir: typeof (rawTemplates as { dir?: unknown }).dir === "string" ? (rawTemplates as { dir: string }).dir : "templates",
    timezone: typeof (rawTemplates as { timezone?: unknown }).timezone === "string" ? (rawTemplates as { timezone: string }).timezone : "Asia/Shanghai",
  };
  const at = errorAt(file, partial);
  const errors: ConfigError[] = [];
  try {
    checkRoutesAndTemplates(route as RouteNodeConfig, receivers, templates, file, at, errors);
  } catch {
    return []; // the raw route is not shaped like one: the schema errors say why
  }
  const covered = (path: (string | number)[]) =>
    reported.some((r) => r.path.length > 0 && r.path.every((part, i) => path[i] === part));
  const seen = new Set(reported.map((r) => `${r.file}:${r.line}:${r.message}`));
  return errors.filter((e) => !covered(e.path) && !seen.has(`${e.file}:${e.line}:${e.message}`));
}

function buildTarget(name: string, target: Config["targets"][string], config: Config, deps: RelayDeps): TargetRuntime & { kind: ChannelKind } {
  const common = { name, apiBase: config.wecom.api_base, timeoutMs: config.wecom.timeout };
  const robotRate = target.rate_limit;
  const robotLimit = (msgtype: MessageType) => byteLimit("robot", msgtype);
  if (target.type === "app") {
    return {
      kind: "app",
      channel: createAppChannel({
        ...common,
        target,
        tokens: deps.tokens,
        ...(deps.metrics && { metrics: deps.metrics }),
        onInvalidRecipients: () => deps.metrics?.invalidRecipients.inc({ target: name }),
      }),
      rateLimit: target.rate_limit,
      paceKey: `app:${name}`,
      byteLimit: (msgtype) => byteLimit("app", msgtype),
    };
  }
  if (target.type === "log" || target.webhook === undefined) {
    // Printed as a robot would receive it, paced like one, so a trial run shows what a real robot gets.
    return { kind: "robot", channel: createLogChannel({ name }), rateLimit: robotRate, paceKey: `log:${name}`, byteLimit: robotLimit };
  }
  return {
    kind: "robot",
    channel: createRobotChannel({ ...common, webhook: target.webhook }),
    rateLimit: robotRate,
    // WeCom limits a robot per webhook, however many targets name it.
    paceKey: `robot:${createHash("sha256").update(robotEndpoint(target.webhook, config.wecom.api_base)).digest("hex")}`,
    byteLimit: robotLimit,
  };
}

/** Targets sharing a pace key all use the strictest rate among them (fewest sends per ms). */
function shareStrictestPace(targets: Map<string, TargetRuntime>): void {
  const strictest = new Map<string, RateLimit>();
  for (const runtime of targets.values()) {
    const known = strictest.get(runtime.paceKey);
    if (!known || runtime.rateLimit.max / runtime.rateLimit.per < known.max / known.per) {
      strictest.set(runtime.paceKey, runtime.rateLimit);
    }
  }
  for (const runtime of targets.values()) runtime.rateLimit = strictest.get(runtime.paceKey)!;
}

/** Every template a route can render with, in the format it is used in. */
function templateUses(routes: readonly EffectiveRoute[]): { template: string; format: Format; path: (string | number)[] }[] {
  return routes.flatMap(({ template, format, path }) => (template === undefined ? [] : [{ template, format, path }]));
}

/** Settings that load but cannot do what they say. */
function routeWarnings(routes: readonly EffectiveRoute[], at: (path: (string | number)[], message: string) => ConfigError): ConfigError[] {
  return routes
    .filter((route) => route.format === "markdown" && route.mention.includes("@all"))
    .map((route) =>
      at([...route.path, "mention"], '"@all" cannot be mentioned in markdown (WeCom supports it in text messages only); use format: text on this route'),
    );
}

/** Log targets, and robots whose webhook was left out (an empty `${VAR:-}`). */
function printedTargets(loaded: LoadedConfig): { name: string; variables: string[] }[] {
  return Object.entries(loaded.config.targets).flatMap(([name, target]) => {
    if (target.type === "log") return [{ name, variables: [] }];
    if (target.type !== "robot" || target.webhook !== undefined) return [];
    const unset = loaded.unset.find((entry) => entry.path.join("\0") === ["targets", name, "webhook"].join("\0"));
    return [{ name, variables: unset?.variables ?? [] }];
  });
}

function printedTargetWarnings(loaded: LoadedConfig, at: (path: (string | number)[], message: string) => ConfigError): ConfigError[] {
  return printedTargets(loaded)
    .filter((target) => loaded.config.targets[target.name]?.type === "robot")
    .map(({ name, variables }) => {
      const fix = variables.length > 0 ? `set ${variables.join(" or ")} to send to a real robot` : "set webhook to send to a real robot";
      return at(["targets", name], `robot "${name}" has no webhook: its messages are printed, not sent (${fix})`);
    });
}
