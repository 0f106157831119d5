// Summarises a V8 CPU profile of the relay (from `run.js --profile DIR`) by pipeline
// stage, so "where does a request's time go" has a number per stage:
//
//   node dist/bench/profile-summary.js DIR/CPU.*.cpuprofile [--skip-head-ms 1500] [--skip-tail-ms 300] [--blocks N]
//
// Each sample is charged to the stage of the innermost frame that belongs to one; native
// work (JSON.parse, SQLite, fsync) is charged to the JavaScript that called it. The first
// and last milliseconds (start-up, warm-up, shutdown) are left out.
//
// --blocks N lists the N longest stretches without an idle sample (what kept the event
// loop busy without a break: a long synchronous call shows as one), each with the call
// stack most of its samples share and the functions that spent its time.
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
  {
    name: "outbox: Store (SQLite inserts + commit/fsync, or the pg client)",
    matches: (url) => /better-sqlite3|\/outbox\/|\/node_modules\/(pg|pg-protocol|pg-pool|pg-types)\//.test(url),
  },
  { name: "render: Handlebars templates", matches: (url) => /handlebars|\/render\//.test(url) },
  { name: "validate payload + build event (zod, sources/)", matches: (url) => /\/zod\/|\/sources\//.test(url) },
  { name: "routing tree", matches: (url) => /\/routing\//.test(url) },
  { name: "tracing: trace ids, receive spans (the OpenTelemetry SDK when configured)", matches: (url) => /\/src\/tracing\/|\/src\/http\/receive-span\.js|@opentelemetry/.test(url) },
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

interface Block {
  /** ms since the profile started. */
  startMs: number;
  durationMs: number;
  /** Frames shared by most of the block's samples, outermost first. */
  sharedStack: string[];
  /** Functions by self time within the block, ms. */
  selfTimes: { frame: string; ms: number }[];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, "$1/");
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/** The longest stretches of samples with no idle one in between. */
function longestBlocks(profile: CpuProfile, count: number, sharedBy = 0.8): Block[] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const stackOf = (leaf: number): number[] => {
    const stack: number[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parents.get(id)) stack.unshift(id);
    return stack.slice(1); // without (root)
  };
  const idle = (leaf: number) => nodes.get(leaf)?.callFrame.functionName === "(idle)";

  const runs: { start: number; end: number; startUs: number; durationUs: number }[] = [];
  let at = 0;
  let current: (typeof runs)[number] | undefined;
  profile.samples.forEach((leaf, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (idle(leaf)) {
      current = undefined;
      return;
    }
    if (!current) runs.push((current = { start: i, end: i, startUs: at, durationUs: 0 }));
    current.end = i;
    current.durationUs += weight;
  });

  return runs
    .sort((a, b) => b.durationUs - a.durationUs)
    .slice(0, count)
    .map((run) => {
      const frameWeights = new Map<number, number>();
      const self = new Map<string, number>();
      let total = 0;
      for (let i = run.start; i <= run.end; i++) {
        const weight = profile.timeDeltas[i + 1] ?? 0;
        const leaf = profile.samples[i]!;
        total += weight;
        for (const id of new Set(stackOf(leaf))) frameWeights.set(id, (frameWeights.get(id) ?? 0) + weight);
        const name = frameName(nodes.get(leaf)!);
        self.set(name, (self.get(name) ?? 0) + weight);
      }
      // The deepest chain of frames each present in at least `sharedBy` of the block.
      const sharedStack: string[] = [];
      let level = profile.nodes.find((node) => !parents.has(node.id))?.children ?? [];
      for (;;) {
        const next = level.find((id) => (frameWeights.get(id) ?? 0) >= total * sharedBy);
        if (next === undefined) break;
        sharedStack.push(frameName(nodes.get(next)!));
        level = nodes.get(next)!.children ?? [];
      }
      return {
        startMs: run.startUs / 1000,
        durationMs: run.durationUs / 1000,
        sharedStack,
        selfTimes: [...self]
          .map(([frame, us]) => ({ frame, ms: us / 1000 }))
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 6),
      };
    });
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: {
      "skip-head-ms": { type: "string", default: "1500" },
      "skip-tail-ms": { type: "string", default: "300" },
      blocks: { type: "string" },
    },
    allowPositionals: true,
  });
  const [file] = positionals;
  if (file === undefined) {
    console.error("usage: node dist/bench/profile-summary.js FILE.cpuprofile [--skip-head-ms N] [--skip-tail-ms N] [--blocks N]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const rows = summarise(profile, Number(values["skip-head-ms"]), Number(values["skip-tail-ms"]));
  for (const { stage, share } of rows) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${stage}`);
  if (values.blocks !== undefined) {
    for (const block of longestBlocks(profile, Number(values.blocks))) {
      console.log(`\n${block.durationMs.toFixed(1)} ms busy from ${(block.startMs / 1000).toFixed(3)} s`);
      console.log(`  shared stack:\n${block.sharedStack.map((frame) => `    ${frame}`).join("\n") || "    (none)"}`);
      console.log(`  self time:\n${block.selfTimes.map(({ frame, ms }) => `    ${ms.toFixed(1).padStart(7)} ms  ${frame}`).join("\n")}`);
    }
  }
}

main();
