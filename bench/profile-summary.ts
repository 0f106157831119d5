// Summarises a V8 CPU profile of the relay (from `run.js --profile DIR`) by pipeline
// stage, so "where does a request's time go" has a number per stage:
//
//   node dist/bench/profile-summary.js DIR/CPU.*.cpuprofile [--skip-head-ms 1500] [--skip-tail-ms 300]
//
// Each sample is charged to the stage of the innermost frame that belongs to one; native
// work (JSON.parse, SQLite, fsync) is charged to the JavaScript that called it. The first
// and last milliseconds (start-up, warm-up, shutdown) are left out.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** First match wins, so more specific stages come first. */
const STAGES: { name: string; matches: (url: string, functionName: string) => boolean }[] = [
  { name: "garbage collection", matches: (_url, fn) => fn === "(garbage collector)" },
  { name: "idle (waiting for I/O)", matches: (_url, fn) => fn === "(idle)" },
  { name: "outbox: SQLite transaction (inserts + commit/fsync)", matches: (url) => /better-sqlite3|\/outbox\//.test(url) },
  { name: "render: Handlebars templates", matches: (url) => /handlebars|\/render\//.test(url) },
  { name: "validate payload + build event (zod, sources/)", matches: (url) => /\/zod\/|\/sources\//.test(url) },
  { name: "routing tree", matches: (url) => /\/routing\//.test(url) },
  { name: "metrics (prom-client)", matches: (url) => /prom-client|\/metrics\.js/.test(url) },
  { name: "logging (winston)", matches: (url) => /winston|logform|\/log\.js/.test(url) },
  {
    name: "delivery: dispatcher, pacer, p-queue, fetch",
    matches: (url) => /p-queue|\/delivery\/|\/channels\/|undici/.test(url),
  },
  {
    name: "express: router, body readers, auth, res.json",
    matches: (url) =>
      /\/(express|router|body-parser|raw-body|content-type|type-is|iconv-lite|on-finished|finalhandler|send|etag)\/|\/src\/http\/|\/src\/server\.js/.test(url),
  },
  { name: "node:http, net, streams", matches: (url) => /^node:(_http|net|events|internal\/(streams|stream_base|http))/.test(url) },
];

function summarise(profile: CpuProfile, skipHeadMs: number, skipTailMs: number): { stage: string; share: number }[] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const stageOf = (leaf: number): string => {
    for (let id: number | undefined = leaf; id !== undefined; id = parents.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      const stage = STAGES.find((s) => s.matches(frame.url, frame.functionName));
      if (stage) return stage.name;
    }
    return "other";
  };

  const totals = new Map<string, number>();
  let all = 0;
  let at = profile.startTime;
  profile.samples.forEach((leaf, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at - profile.startTime < skipHeadMs * 1000 || profile.endTime - at < skipTailMs * 1000) return;
    // A sample stands for the time until the next one.
    const weight = profile.timeDeltas[i + 1] ?? 0;
    const stage = stageOf(leaf);
    totals.set(stage, (totals.get(stage) ?? 0) + weight);
    all += weight;
  });
  return [...totals]
    .map(([stage, time]) => ({ stage, share: all === 0 ? 0 : time / all }))
    .sort((a, b) => b.share - a.share);
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { "skip-head-ms": { type: "string", default: "1500" }, "skip-tail-ms": { type: "string", default: "300" } },
    allowPositionals: true,
  });
  const [file] = positionals;
  if (file === undefined) {
    console.error("usage: node dist/bench/profile-summary.js FILE.cpuprofile [--skip-head-ms N] [--skip-tail-ms N]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const rows = summarise(profile, Number(values["skip-head-ms"]), Number(values["skip-tail-ms"]));
  for (const { stage, share } of rows) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${stage}`);
}

main();
