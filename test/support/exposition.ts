// A Prometheus text exposition as tests read it, and the checks that a query only names
// metrics the relay exports.

/** Metric names in an expression: anything prefixed wecom_relay_ (labels and functions never are). */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bwecom_relay_[a-z0-9_]+/g)].map((match) => match[0]);
}

export interface Exposition {
  /** Metric family name -> type, from the `# TYPE` lines. */
  families: Map<string, string>;
  /** Names of the series that have at least one sample. */
  sampled: Set<string>;
}

export function parseExposition(text: string): Exposition {
  const families = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    else if (line && !line.startsWith("#")) sampled.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return { families, sampled };
}

/**
 * The family a queried name belongs to: itself, or the histogram a `_bucket`, `_sum` or
 * `_count` series is part of. Undefined when the relay exports nothing of that name.
 */
export function familyOf(name: string, exposition: Exposition): string | undefined {
  if (exposition.families.has(name)) return name;
  const series = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (series && ["histogram", "summary"].includes(exposition.families.get(series[1]!) ?? "")) return series[1];
  return undefined;
}

/** Queried names the exposition cannot answer: unknown families, or histogram buckets without samples. */
export function unansweredMetrics(exprs: readonly { where: string; expr: string }[], exposition: Exposition): string[] {
  return exprs.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((name) => familyOf(name, exposition) === undefined || (name.endsWith("_bucket") && !exposition.sampled.has(name)))
      .map((name) => `${where}: ${name}`),
  );
}

/** The relay's own metrics: every family but the default Node.js process ones. */
export function relayFamilies(exposition: Exposition): string[] {
  return [...exposition.families.keys()].filter((name) => !/^wecom_relay_(process|nodejs)_/.test(name));
}
