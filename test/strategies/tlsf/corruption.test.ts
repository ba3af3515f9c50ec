/**
 * TlsfAllocator's in-band words are checked before they are trusted: a write past a block
 * that changes a neighbour's size word, a footer or a link is caught at the call that reads
 * it and poisons the heap; and check() finds what the walk can see.
 */

import { describe, expect, it } from "vitest";
import { HeapCorruptedError, HeapPoisonedError } from "../../../src/core/errors.js";
import { FixedMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { blockSize, expectPoisons, SW, type Tlsf, tlsf, u32, W } from "./helpers.js";

describe("TlsfAllocator: in-band words are checked before they are trusted", () => {
  for (const frontEnd of [false, true]) {
    const which = frontEnd ? "with the front end" : "TLSF alone";

    it(`a write 6 bytes past a 64-byte block is caught when the next block is freed (${which})`, () => {
      // Bytes written past A land in B's size word: every pattern, the exact 80 (0x50) that
      // makes B look one granule larger, and 72 | flags.
      for (const bytes of [
        [0x41, 0x41],
        [0, 0],
        [0xff, 0xff],
        [0x50, 0],
        [0x49, 0],
        [0x4a, 0],
      ]) {
        for (const withSize of [false, true]) {
          const a = tlsf(1 << 16, frontEnd);
          const A = a.alloc(64);
          const B = a.alloc(64);
          a.alloc(64); // B's right neighbour is used (so the front end would take B)
          a.memory.u8.fill(0x33, A, A + 64);
          a.memory.u8[A + 68] = bytes[0];
          a.memory.u8[A + 69] = bytes[1];
          expectPoisons(a, () => (withSize ? a.dealloc(B, 64) : a.dealloc(B)));
        }
      }
    });

    it(`a damaged size word is caught by usableSize and realloc (${which})`, () => {
      for (const call of ["usableSize", "realloc"]) {
        const a = tlsf(1 << 16, frontEnd);
        const A = a.alloc(64);
        const B = a.alloc(64);
        a.alloc(64);
        u32(a)[(B - 4) >>> 2] = 80;
        void A;
        expectPoisons(a, () => (call === "usableSize" ? a.usableSize(B) : a.realloc(B, 10)));
      }
    });

    it(`a damaged free block's size word, footer or links are caught when it is used (${which})`, () => {
      // F is a free block (too large for the front end) between used L and R: of 608 bytes,
      // which every use takes out of its list; or of 8,296 bytes, which stays in its list
      // when 48 bytes are cut from it or 104 bytes merged into it (take's rest or the merged
      // block takes its place there).
      for (const [request, size, take] of [
        [600, 608, 600],
        [8292, 8296, 40],
      ]) {
        const cases: ((w: Uint32Array, f: number) => void)[] = [
          (w, f) => {
            w[f >>> 2] += 8;
          }, // size word
          (w, f) => {
            w[(f + size - 4) >>> 2] = 12;
          }, // footer
          (w, f) => {
            w[(f + 8) >>> 2] = f + 64;
          }, // next link: not a block start
          (w, f) => {
            w[(f + 4) >>> 2] = 4;
          }, // previous link: outside the heap
        ];
        for (const damage of cases) {
          for (const use of ["alloc", "free left", "free right"]) {
            const a = tlsf(1 << 16, frontEnd);
            const L = a.alloc(100);
            const F = a.alloc(request);
            const R = a.alloc(100);
            a.alloc(8);
            a.dealloc(F);
            expect(u32(a)[(F - 4) >>> 2]).toBe(size | 1);
            damage(u32(a), F - 4);
            expectPoisons(a, () =>
              use === "alloc" ? a.alloc(take) : a.dealloc(use === "free left" ? L : R),
            );
          }
        }
      }
    });

    it(`a PREV_FREE bit set on a used block is caught by the footer check (${which})`, () => {
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      a.memory.u8.fill(0x11, A, A + 68);
      u32(a)[(B - 4) >>> 2] |= 2;
      expectPoisons(a, () => a.dealloc(B));
    });
  }

  for (const frontEnd of [false, true]) {
    it(`a PREV_FREE bit set on the block after a freed one is caught (${frontEnd ? "with the front end" : "TLSF alone"})`, () => {
      // The write past A sets only B's PF bit: freeing A would make it true, but a used
      // block that says its predecessor is free while that one is used is damaged.
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      u32(a)[(B - 4) >>> 2] |= 2;
      if (frontEnd) {
        a.dealloc(A); // held as a used block: B's PF bit is read when A is given back
        expectPoisons(a, () => a.check());
      } else {
        expectPoisons(a, () => a.dealloc(A));
      }
    });
  }

  it("a used block's size word with its free bit set is caught (small and large blocks)", () => {
    for (const size of [64, 1000]) {
      const a = tlsf();
      a.alloc(8);
      const B = a.alloc(size);
      a.alloc(8);
      u32(a)[(B - 4) >>> 2] |= 1;
      expectPoisons(a, () => a.usableSize(B));
    }
  });

  it("a damaged size word is caught wherever the block lies in the start map's words", () => {
    // B starts at every granule offset modulo 32 (a start word's bits). It claims 256 bytes
    // more than its 600, or 0 bytes of its 256 (the start map shows neither end), or its own
    // 200 bytes and its follower's 280: the claimed end is a block start, but the follower's
    // start comes first, in the same start word or in an earlier one.
    for (const [size, follower, damage] of [
      [596, 600, (w: number) => w + 256],
      [252, 600, (_w: number) => 0],
      [196, 276, (w: number) => w + 280],
    ] as const) {
      for (let pad = 2; pad < 34; pad++) {
        const a = tlsf(1 << 17);
        a.alloc(pad * 8 - 4); // a block of \`pad\` granules before B
        const B = a.alloc(size);
        a.alloc(follower);
        a.alloc(64);
        expect(blockSize(a, B)).toBe(size + 4);
        const w = u32(a);
        w[(B - 4) >>> 2] = damage(w[(B - 4) >>> 2]);
        expectPoisons(a, () => a.usableSize(B));
      }
    }
  });

  it("a large block's damaged size word is caught by the start map (up to and past its window)", () => {
    // 1,000 and 20,000 bytes: checked exactly, and past WINDOW_G granules (8 KiB).
    for (const size of [1000, 20_000]) {
      for (const delta of [8, -8, 4096]) {
        const a = tlsf(1 << 17);
        a.alloc(64);
        const B = a.alloc(size);
        a.alloc(size);
        a.alloc(64);
        u32(a)[(B - 4) >>> 2] += delta;
        expectPoisons(a, () => a.usableSize(B));
      }
    }
    // B claims its own bytes and its follower's, past the window: the claimed end is a block
    // start, but the window holds the follower's.
    const a = tlsf(1 << 17);
    const B = a.alloc(1000);
    const C = a.alloc(20_000);
    a.alloc(64);
    u32(a)[(B - 4) >>> 2] += blockSize(a, C);
    expectPoisons(a, () => a.usableSize(B));
  });

  it("a free list's head whose size word and footer were both forged is caught when taken", () => {
    // F (608 bytes, alone in its list) claims 1,216 bytes, with a footer forged to match: its
    // links say it heads the list of 1,216, which it does not.
    for (const frontEnd of [false, true]) {
      const a = tlsf(1 << 16, frontEnd);
      a.alloc(100);
      const F = a.alloc(600);
      const R = a.alloc(1000);
      a.alloc(8);
      a.dealloc(F);
      const f = F - 4;
      const w = u32(a);
      w[f >>> 2] = 1216 | 1;
      w[(f + 1216 - 4) >>> 2] = f; // inside R: user bytes
      expect(f + 1216 - 4).toBeLessThan(R + 1000);
      expectPoisons(a, () => a.alloc(600));
    }
  });

  it("a held block whose size word was overwritten is caught when given back, and by check()", () => {
    for (const how of ["flush", "check"]) {
      const a = tlsf(1 << 16, true);
      a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      a.dealloc(B); // held: both neighbours used
      u32(a)[(B - 4) >>> 2] = 0x4141;
      // A request no free block fits makes the front end give its blocks back first.
      expectPoisons(a, () => (how === "flush" ? a.alloc(60_000) : a.check()));
    }
  });

  it("each check's error names the block and the word or link that gave it away", () => {
    /** `fn` poisons `a` with a HeapCorruptedError whose message contains `what`. */
    const poisonsWith = (a: Tlsf, fn: () => unknown, what: string) => {
      expect(fn).toThrow(`TlsfAllocator: heap corrupted: ${what}`);
      expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    };
    // Used A and B (72-byte blocks), then C.
    const pair = (frontEnd = false) => {
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      expect(blockSize(a, A)).toBe(72);
      return { a, A, B, w: u32(a) };
    };
    {
      const { a, A, B, w } = pair();
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(A),
        `block ${B - 4} after used block ${A - 4} says its predecessor is free`,
      );
    }
    // A footer that is not a block start: user bytes, a start before the first block, a
    // start closer to B than a minimal block, and an address that no block starts at.
    for (const footer of [
      (_A: number) => 0x11111111,
      (A: number) => A - 12,
      (A: number) => A + 60,
      (A: number) => A, // inside the range, but not ≡ 4 mod 8
    ]) {
      const { a, A, B, w } = pair();
      a.memory.u8.fill(0x11, A, A + 68);
      w[(B - 8) >>> 2] = footer(A);
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(B),
        `block ${B - 4}: the footer before it holds ${footer(A)}, not a block start`,
      );
    }
    {
      const { a, A, B, w } = pair();
      w[(B - 8) >>> 2] = A - 4; // a footer naming A, which is used
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(B),
        `block ${B - 4}: its free predecessor ${A - 4} has size word 72`,
      );
    }
    {
      const { a, B, w } = pair();
      w[(B - 4) >>> 2] = 80;
      poisonsWith(
        a,
        () => a.usableSize(B),
        `used block ${B - 4}: size word 80 does not end where the next block starts`,
      );
    }
    {
      const { a, B, w } = pair(true);
      a.dealloc(B); // held by the front end
      w[(B - 4) >>> 2] = 0x4141;
      poisonsWith(
        a,
        () => a.alloc(60_000),
        `block ${B - 4} held by the front end for size 72 has size word ${0x4141}`,
      );
    }
    // F and G: free blocks of one list (G heads it, F after it) between used L, R and the
    // tail, in a heap over the first 64 KiB of a 128 KiB buffer (the rest is someone else's
    // bytes): of 608 bytes, or of 8,296, which stays in its list when L's or R's 104 bytes
    // merge into it (L's block then takes F's place in the list). Each damage to F is found
    // by every call that reads it: freeing L (F unlinked or replaced to merge), realloc(L)
    // growing into F or shrinking beside it (F checked, then absorbed), freeing R (F checked
    // as R's free predecessor, through the footer before R and F's size word first). The
    // last two damages forge a footer that points back: a size word of 0 whose "footer" is
    // L's last word, and a size reaching 4 bytes past the heap, where the word after the
    // heap holds F's address.
    const END = 1 << 16;
    for (const [request, size] of [
      [600, 608],
      [8292, 8296],
    ]) {
      const damages: ((w: Uint32Array, f: number, r: number) => [string, string])[] = [
        (w, f, r) => {
          w[f >>> 2] += 8;
          return [
            `free block ${f}: size word ${size + 8 + 1} or its footer is damaged`,
            `block ${r}: its free predecessor ${f} has size word ${size + 8 + 1}`,
          ];
        },
        (w, f, r) => {
          w[(f + size - 4) >>> 2] = 12;
          return [
            `free block ${f}: size word ${size + 1} or its footer is damaged`,
            `block ${r}: the footer before it holds 12, not a block start`,
          ];
        },
        (w, f) => {
          w[(f + 8) >>> 2] = f + 64;
          const what = `free block ${f}: next link ${f + 64} does not link back`;
          return [what, what];
        },
        (w, f) => {
          w[(f + 4) >>> 2] = 4;
          const what = `free block ${f}: previous link 4 does not link back`;
          return [what, what];
        },
        (w, f) => {
          w[(f + 4) >>> 2] = 0; // says it heads its list, which G does
          const what = `free block ${f}: previous link 0 does not link back`;
          return [what, what];
        },
        (w, f, r) => {
          w[f >>> 2] = 0 | 1;
          w[(f - 4) >>> 2] = f;
          return [
            `free block ${f}: size word 1 or its footer is damaged`,
            `block ${r}: its free predecessor ${f} has size word 1`,
          ];
        },
        (w, f, r) => {
          const word = (END + 4 - f) | 1;
          w[f >>> 2] = word;
          w[END >>> 2] = f;
          return [
            `free block ${f}: size word ${word} or its footer is damaged`,
            `block ${r}: its free predecessor ${f} has size word ${word}`,
          ];
        },
      ];
      for (const damage of damages) {
        for (const use of ["free left", "realloc left", "shrink left", "free right"]) {
          const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(2 * END), 0, END));
          const L = a.alloc(100);
          const F = a.alloc(request);
          const R = a.alloc(100);
          const G = a.alloc(request);
          a.alloc(8);
          a.dealloc(F);
          a.dealloc(G);
          expect(u32(a)[(F - 4) >>> 2]).toBe(size | 1);
          const [left, right] = damage(u32(a), F - 4, R - 4);
          if (use === "free left") poisonsWith(a, () => a.dealloc(L), left);
          else if (use === "realloc left") poisonsWith(a, () => a.realloc(L, 300), left);
          else if (use === "shrink left") poisonsWith(a, () => a.realloc(L, 50), left);
          else poisonsWith(a, () => a.dealloc(R), right);
        }
      }
    }
    // The head of a list whose size word says used, or too small for the list.
    for (const word of [608, 560 | 1]) {
      const a = tlsf();
      a.alloc(100);
      const F = a.alloc(600);
      a.alloc(100);
      a.dealloc(F);
      u32(a)[(F - 4) >>> 2] = word;
      poisonsWith(
        a,
        () => a.alloc(600),
        `block ${F - 4} on a free list has size word ${word}, not a free block that fits`,
      );
    }
  });
});

describe("TlsfAllocator: check()", () => {
  function broken(damage: (a: Tlsf, w: Uint32Array, ps: number[]) => void, frontEnd = false) {
    const a = tlsf(1 << 16, frontEnd);
    const ps = [a.alloc(40), a.alloc(100), a.alloc(40), a.alloc(300), a.alloc(40)];
    a.dealloc(ps[1]);
    a.dealloc(ps[3]);
    a.check();
    damage(a, u32(a), ps);
    expect(() => a.check()).toThrow(HeapCorruptedError);
    expect(a.poisoned).toBe(true);
  }

  it("finds a broken size word, footer, flag, link or bitmap", () => {
    broken((_a, w, ps) => {
      w[(ps[0] - 4) >>> 2] = 56;
    });
    broken((_a, w, ps) => {
      w[(ps[1] - 4 + 104 - 4) >>> 2] = 0;
    });
    broken((_a, w, ps) => {
      w[(ps[2] - 4) >>> 2] &= ~2;
    });
    broken((_a, w, ps) => {
      w[(ps[1] + 4) >>> 2] = ps[3] - 4;
    });
    broken((a, w) => {
      w[(a as unknown as { flMap: number }).flMap] ^= 1 << 20;
    });
  });

  it("finds wrong state words", () => {
    for (const word of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.CACHED]) {
      broken((_a, w) => {
        w[SW + word] += 8;
      });
    }
    broken((_a, w) => {
      w[SW + W.END] -= 8;
    });
  });

  it("finds a broken live or start map", () => {
    broken((a, _w, ps) => {
      const live = (a as unknown as { live: Int32Array }).live;
      const g = (ps[0] - (a as unknown as { dataStart: number }).dataStart) >>> 3;
      live[(g >>> 5) << 1] ^= 1 << (g & 31);
    });
    broken((a, _w, ps) => {
      const live = (a as unknown as { live: Int32Array }).live;
      const g = (ps[0] + 16 - (a as unknown as { dataStart: number }).dataStart) >>> 3;
      live[((g >>> 5) << 1) + 1] ^= 1 << (g & 31);
    });
  });

  it("finds a front end holding a block twice, a live block, or a wrong count", () => {
    const held = (damage: (fc: Uint32Array, p: number) => void) =>
      broken((a, _w, ps) => {
        const p = a.alloc(40); // ps[0]'s class: 48-byte blocks
        a.alloc(8);
        a.dealloc(p);
        damage((a as unknown as { fc: Uint32Array }).fc, ps[0]);
      }, true);
    const at = 6 << 8; // class 6: 48-byte blocks
    held((fc) => {
      fc[at] = 2;
      fc[at + 3] = fc[at + 2];
    });
    held((fc, live) => {
      fc[at + 2] = live - 4;
    });
    held((fc) => {
      fc[at] = 0;
    });
  });
});
