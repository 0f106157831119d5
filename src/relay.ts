// Wires the stages for one loaded config: routes, templates, channels. A Relay is
// immutable; a reload builds a new one and swaps it in. This is the only file that
// knows every stage.
import { createHash } from "node:crypto";
import { isAbsolute, resolve, dirname } from "node:path";
import type { Channel } from "./channels/channel.js";
import { createAppChannel } from "./channels/wecom/app.js";
import { createRobotChannel, robotKey } from "./channels/wecom/robot.js";
import type { TokenCache } from "./channels/wecom/token.js";
import type { ConfigError } from "./config/errors.js";
import type { LoadedConfig } from "./config/load.js";
import type { Config, RateLimit, RouteNodeConfig } from "./config/schema.js";
import { scrubSecrets } from "./config/secrets.js";
import type { DigestRenderer } from "./delivery/coalesce.js";
import type { TargetRuntime } from "./delivery/dispatcher.js";
import { byteLimit, type ChannelKind } from "./render/limits.js";
import type { Metrics } from "./metrics.js";
import { renderMessages, type RenderTarget } from "./render/render.js";
import { loadTemplates, shippedTemplatesDir, type TemplateSet } from "./render/templates.js";
import { compileRouteTree, type RouteTree } from "./routing/tree.js";
import type { Event, Match, Message } from "./types.js";

/** WeCom's own limit for a group robot. */
export const ROBOT_DEFAULT_RATE: RateLimit = { max: 20, per: 60_000 };
/** App messages: WeCom allows 30/min to one member; stay under it. */
export const APP_DEFAULT_RATE: RateLimit = { max: 30, per: 60_000 };

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
}

export class Relay {
  private constructor(
    readonly loaded: LoadedConfig,
    readonly routes: RouteTree,
    readonly templates: TemplateSet,
    readonly targets: Map<string, TargetRuntime & { kind: ChannelKind }>,
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
    // Route and template errors may quote config text, and a secret can sit anywhere in it.
    const at = (path: (string | number)[], message: string): ConfigError => {
      const line = loaded.lineOf(path);
      return { file, path, message: scrubSecrets(message, loaded.secrets), ...(line !== undefined && { line }) };
    };

    const compiled = compileRouteTree(config.route, new Set(config.receivers.map((r) => r.name)));
    if ("errors" in compiled) {
      errors.push(...compiled.errors.map((e) => at(e.path, e.message)));
    }

    const templateDir = isAbsolute(config.templates.dir) ? config.templates.dir : resolve(dirname(file), config.templates.dir);
    const loadedTemplates = loadTemplates({ dirs: [shippedTemplatesDir(), templateDir], timezone: config.templates.timezone });
    if ("errors" in loadedTemplates) {
      errors.push(
        ...loadedTemplates.errors.map((e) =>
          // A bad time zone is a config value, not a template file: point at its line.
          e.file === "templates.timezone"
            ? at(["templates", "timezone"], e.message)
            : { file: e.file, path: [], message: scrubSecrets(e.message, loaded.secrets), ...(e.line !== undefined && { line: e.line }) },
        ),
      );
    } else {
      for (const use of templateUses(config.route)) {
        if (!loadedTemplates.templates.has(use.template, use.format)) {
          errors.push(at([...use.path, "template"], `no template "${use.template}" for format ${use.format} (expected ${use.template}.${use.format === "markdown" ? "md" : "txt"}.hbs in ${templateDir} or the shipped templates)`));
        }
      }
    }

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
    return { relay: new Relay(loaded, compiled.tree, loadedTemplates.templates, targets) };
  }

  /** Routes and renders one event into the messages to queue. */
  route(event: Event): Routed {
    return this.render(event, this.routes.match(event.labels));
  }

  /** Renders an event for matches decided elsewhere (the API names its receiver). */
  render(event: Event, matches: Match[]): Routed {
    const messages: Message[] = [];
    const fallbacks: Routed["fallbacks"] = [];
    for (const match of matches) {
      const receiver = this.receiver(match.receiver);
      if (!receiver) continue; // compileRouteTree guarantees route receivers exist
      const renderTargets: RenderTarget[] = receiver.targets.map((name) => ({ name, kind: this.targets.get(name)!.kind }));
      const rendered = renderMessages(event, match, renderTargets, this.templates);
      messages.push(...rendered.messages);
      if (rendered.fallback !== undefined) fallbacks.push({ template: match.template, error: rendered.fallback });
    }
    return { event, matches, messages, fallbacks };
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
      items: items.map((item) => ({ summary: item.summary, at: new Date(item.at).toISOString() })),
    });
}

function buildTarget(name: string, target: Config["targets"][string], config: Config, deps: RelayDeps): TargetRuntime & { kind: ChannelKind } {
  const common = { name, apiBase: config.wecom.api_base, timeoutMs: config.wecom.timeout };
  const channel: Channel =
    target.type === "robot"
      ? createRobotChannel({ ...common, webhook: target.webhook })
      : createAppChannel({
          ...common,
          target,
          tokens: deps.tokens,
          ...(deps.metrics && { metrics: deps.metrics }),
          onInvalidRecipients: () => deps.metrics?.invalidRecipients.inc({ target: name }),
        });
  const kind = target.type;
  return {
    kind,
    channel,
    rateLimit: target.rate_limit ?? (kind === "robot" ? ROBOT_DEFAULT_RATE : APP_DEFAULT_RATE),
    // WeCom limits a robot per webhook key, however many targets name it.
    paceKey:
      target.type === "robot"
        ? `robot:${createHash("sha256").update(`${config.wecom.api_base}\0${robotKey(target.webhook)}`).digest("hex")}`
        : `app:${name}`,
    byteLimit: (msgtype) => byteLimit(kind, msgtype),
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

/** Every template a route can render with, in the format it is used in (both are inherited). */
export function templateUses(root: RouteNodeConfig): { template: string; format: "text" | "markdown"; path: (string | number)[] }[] {
  const uses: { template: string; format: "text" | "markdown"; path: (string | number)[] }[] = [];
  const walk = (node: RouteNodeConfig, path: (string | number)[], inherited: { template?: string; format: "text" | "markdown" }) => {
    const format = node.format ?? inherited.format;
    const template = node.template ?? inherited.template;
    if (template !== undefined) uses.push({ template, format, path });
    node.routes?.forEach((child, i) => walk(child, [...path, "routes", i], { format, ...(template !== undefined && { template }) }));
  };
  walk(root, ["route"], { format: "markdown" });
  return uses;
}
