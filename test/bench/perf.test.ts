import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs module of the benchmark, without types
import { hotInstructions } from "../../bench/perf.mjs";

// A piece of `perf annotate --stdio` output for a JIT-compiled function (bench/perf.mjs).
const ANNOTATED = `
 Percent |      Source code & Disassembly of jitted-1234-56.so for cycles:P (40 samples)
--------------------------------------------------------------------------------------------
         :            0000000000000040 <JS:*take file:///x/dist/strategies/tlsf/search.js:78:9>:
    0.00 :   574:    lea    (%r14,%rsi,1),%rax
    0.50 :   578:    movl   $0x0,(%rax,%r9,4)
   24.40 :   580:    mov    0x3f(%rcx),%r9d
         : 164 file:///x/dist/strategies/tlsf/allocator.js:222
    1.90 :   584:    lea    0x2(%r11),%eax
    3.00 :   588:    test   $0x4,%r9b
`;

describe("bench/perf.mjs: the hottest instructions of perf annotate's output", () => {
  it("keeps those at or above the threshold, each after the instructions before it", () => {
    const hot = hotInstructions(ANNOTATED, 2, 2);
    expect(hot.map((h: { at: string }) => h.at)).toEqual(["580", "588"]);
    expect(hot[0]).toEqual({
      percent: 24.4,
      at: "580",
      code: "mov 0x3f(%rcx),%r9d",
      context: [
        { percent: 0, at: "574", code: "lea (%r14,%rsi,1),%rax" },
        { percent: 0.5, at: "578", code: "movl $0x0,(%rax,%r9,4)" },
      ],
    });
    expect(hot[1].context.map((c: { at: string }) => c.at)).toEqual(["580", "584"]);
    expect(hotInstructions(ANNOTATED, 25)).toEqual([]);
  });
});
