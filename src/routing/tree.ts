// The routing tree of routes.yml, with Alertmanager's semantics: depth-first, the first
// matching child wins unless it has `continue: true`, a node with no matching child
// handles the event itself, and children inherit whatever they leave unset.
import type { RouteNodeConfig } from "../config/schema.js";
import type { Format, Labels, Match } from "../types.js";
import { MatcherSyntaxError, parseMatchers, type Matcher } from "./matchers.js";

/** One problem in the route config; `path` starts at the config root (`["route", ...]`). */
export interface RouteError {
  path: (string | number)[];
  message: string;
}

const DEFAULT_FORMAT: Format = "markdown";
// Used only when the labels carry no `source` (events always do; hand-typed label sets
// in `routes test` may not): the api template is the generic one.
const FALLBACK_TEMPLATE = "api";

/** A route with its inherited settings already resolved. */
interface RouteNode {
  /** Readable path, e.g. "route.routes[1]". */
  route: string;
  /** Where it is in the config, e.g. ["route", "routes", 1]. */
  path: (string | number)[];
  matchers: Matcher[];
  continue: boolean;
  receiver: string;
  format: Format;
  /** Undefined when no route on the way sets one: the event's source decides. */
  template: string | undefined;
  mention: string[];
  children: RouteNode[];
}

type Inherited = Pick<RouteNode, "receiver" | "format" | "template" | "mention">;

/** Every route with the settings it ends up with: what `check` inspects (templates used, mentions). */
export type EffectiveRoute = Pick<RouteNode, "path" | "receiver" | "format" | "template" | "mention">;

export class RouteTree {
  constructor(private readonly root: RouteNode) {}

  /** Every route that takes an event with these labels, in config order. Never empty. */
  match(labels: Labels): Match[] {
    return this.matches(labels, NO_VISIT);
  }

  /**
   * `match`, with the way through the tree: every route looked at, in order, with its
   * matchers and whether it matched (what `routes test` and the console show).
   */
  explain(labels: Labels): { matches: Match[]; steps: RouteStep[] } {
    const steps: RouteStep[] = [];
    const visit = (node: RouteNode, matched: boolean, depth: number) =>
      steps.push({ route: node.route, depth, matchers: node.matchers.map(String), matched, receiver: node.receiver, continue: node.continue });
    return { matches: this.matches(labels, visit), steps };
  }

  private matches(labels: Labels, visit: Visit): Match[] {
    const nodes = matchNode(this.root, labels, visit) ?? [this.root];
    const source = labelValue(labels, "source");
    return nodes.map((node) => ({
      receiver: node.receiver,
      template: node.template ?? source ?? FALLBACK_TEMPLATE,
      format: node.format,
      mention: [...node.mention],
      route: node.route,
    }));
  }
}

type Visit = (node: RouteNode, matched: boolean, depth: number) => void;
/** Matching events costs no bookkeeping; only explain() records the way. */
const NO_VISIT: Visit = () => undefined;

/** One route looked at while matching: it matched or not; its children were looked at only if it did. */
export interface RouteStep {
  route: string;
  depth: number;
  matchers: string[];
  matched: boolean;
  receiver: string;
  continue: boolean;
}

/**
 * Checks and compiles the `route:` section. Reports every error at once, each with the
 * path of the offending key, so the config loader can point at YAML lines.
 */
export function compileRouteTree(
  root: RouteNodeConfig,
  receivers: ReadonlySet<string>,
): ({ tree: RouteTree } | { errors: RouteError[] }) & { routes: EffectiveRoute[] } {
  const errors: RouteError[] = [];
  const path = ["route"];

  // Alertmanager's rules for the root: it is the catch-all, so it needs a receiver and
  // cannot be conditional.
  if (root.receiver === undefined || root.receiver === "") {
    errors.push({ path, message: "the root route must name a receiver: it takes every event no other route takes" });
  }
  if (root.matchers !== undefined && root.matchers.length > 0) {
    errors.push({ path: [...path, "matchers"], message: "the root route must not have matchers: it matches every event" });
  }
  if (root.continue === true) {
    errors.push({ path: [...path, "continue"], message: "the root route must not set continue: it has no siblings" });
  }

  const defaults: Inherited = { receiver: "", format: DEFAULT_FORMAT, template: undefined, mention: [] };
  const compiled = compileNode(root, path, "route", defaults, receivers, errors, { skipMatchers: true });
  const routes: EffectiveRoute[] = [];
  const walk = (node: RouteNode): void => {
    routes.push({ path: node.path, receiver: node.receiver, format: node.format, template: node.template, mention: node.mention });
    node.children.forEach(walk);
  };
  walk(compiled);
  return errors.length > 0 ? { errors, routes } : { tree: new RouteTree(compiled), routes };
}

function compileNode(
  config: RouteNodeConfig,
  path: (string | number)[],
  route: string,
  parent: Inherited,
  receivers: ReadonlySet<string>,
  errors: RouteError[],
  options: { skipMatchers?: boolean } = {},
): RouteNode {
  if (config.receiver !== undefined && config.receiver !== "" && !receivers.has(config.receiver)) {
    errors.push({ path: [...path, "receiver"], message: unknownReceiver(config.receiver, receivers) });
  }

  const matchers: Matcher[] = [];
  if (!options.skipMatchers) {
    (config.matchers ?? []).forEach((text, index) => {
      try {
        matchers.push(...parseMatchers(text));
      } catch (err) {
        if (!(err instanceof MatcherSyntaxError)) throw err;
        errors.push({ path: [...path, "matchers", index], message: err.message });
      }
    });
  }

  const own: Inherited = {
    receiver: config.receiver || parent.receiver,
    format: config.format ?? parent.format,
    template: config.template ?? parent.template,
    mention: config.mention ?? parent.mention,
  };
  const children = (config.routes ?? []).map((child, index) =>
    compileNode(child, [...path, "routes", index], `${route}.routes[${index}]`, own, receivers, errors),
  );
  return { route, path, matchers, continue: config.continue === true, ...own, children };
}

/** The routes that take the event below (and including) `node`, or undefined if it does not match. */
function matchNode(node: RouteNode, labels: Labels, visit: Visit, depth = 0): RouteNode[] | undefined {
  const matched = node.matchers.every((m) => m.matches(labelValue(labels, m.name)));
  visit(node, matched, depth);
  if (!matched) return undefined;
  const taken: RouteNode[] = [];
  for (const child of node.children) {
    const found = matchNode(child, labels, visit, depth + 1);
    if (found === undefined) continue;
    taken.push(...found);
    if (!child.continue) break;
  }
  return taken.length > 0 ? taken : [node];
}

// Own properties only: a label named "constructor" must not find Object.prototype's.
function labelValue(labels: Labels, name: string): string | undefined {
  return Object.hasOwn(labels, name) ? labels[name] : undefined;
}

function unknownReceiver(name: string, receivers: ReadonlySet<string>): string {
  const known = [...receivers].sort();
  const list = known.length > 0 ? `known receivers: ${known.join(", ")}` : "no receivers are defined";
  return `unknown receiver "${name}" (${list})`;
}
