// Reads the relay's Prometheus exposition (/metrics) for the figures the benchmarks report.

export interface Scrape {
  /** How long the scrape took to answer, ms (it counts the outbox's queued rows first). */
  latencyMs: number;
  /** Every sample, keyed by the series as written (`name` or `name{label="value",...}`). */
  samples: Map<string, number>;
}

const PREFIX = "wecom_relay_";

export async function scrapeMetrics(baseUrl: string, timeoutMs = 10_000): Promise<Scrape> {
  const startedAt = performance.now();
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const latencyMs = performance.now() - startedAt;
  if (!res.ok) throw new Error(`/metrics answered ${res.status}: ${text.slice(0, 200)}`);
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { latencyMs, samples };
}

/** The sum of every series of `name` (without the prefix) whose labels include all of `labels`. */
export function metric(scrape: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const [series, value] of scrape.samples) {
    const brace = series.indexOf("{");
    if ((brace < 0 ? series : series.slice(0, brace)) !== PREFIX + name) continue;
    if (!Object.entries(labels).every(([label, wanted]) => series.includes(`${label}="${wanted}"`))) continue;
    sum = (sum ?? 0) + value;
  }
  return sum;
}
