// `npm run bench -- --publish`: a full run's results become the committed ones. They go to
// bench/results/latest.{md,json}, and the README's part between the bench:published markers
// is rewritten from them: the summary, the W1 table and the targets.

import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HERE, ROOT } from "./paths.mjs";
import { renderSummary, rowTable, targetTable } from "./render.mjs";
import { WORKLOADS } from "./workloads.mjs";

const START = "<!-- bench:published";
const END = "<!-- /bench:published -->";

/** The README's published part for these results. */
export function readmePart(meta, results) {
  const L = [
    `${START} (npm run bench -- --publish rewrites this part) -->`,
    `The latest published run (\`${meta.command}\`, ${meta.date}, Node ${meta.node.replace(/^v/, "")}, ` +
      `${meta.cpu}, ${meta.cores} cores; 1-minute load ${meta.loadavgStart[0].toFixed(1)} at the ` +
      `start, ${meta.loadavgEnd[0].toFixed(1)} at the end):`,
    "",
    "```",
    renderSummary(results),
    "```",
    "",
  ];
  rowTable(
    L,
    results.filter((r) => r.workload === "W1"),
    WORKLOADS.W1.name,
  );
  L.push(
    "The speed and footprint goals memkit sets itself, as measured in that run (what stands in " +
      "the way of each is in " +
      "[`bench/results/latest.md`](bench/results/latest.md)):",
    "",
    ...targetTable(meta.targets),
    "",
    END,
  );
  return L.join("\n");
}

/** Copies the run's files to bench/results/ and rewrites the README's part. Returns the files. */
export function publish(files, meta, results) {
  const out = [];
  for (const f of files) {
    const to = join(HERE, "results", `latest${f.slice(f.lastIndexOf("."))}`);
    copyFileSync(f, to);
    out.push(to);
  }
  const readme = join(ROOT, "README.md");
  const text = readFileSync(readme, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) {
    writeFileSync(
      readme,
      text.slice(0, a) + readmePart(meta, results) + text.slice(b + END.length),
    );
    out.push(readme);
  }
  return out;
}
