/**
 * `Box`: one value of a field type (a scalar, a fixed array or a struct) in a block of its
 * own, in any allocator (Rust's `Box::new_in(value, &alloc)`).
 *
 *     const n = box("u32", 5);                 // Box<"u32">: n.value is a number
 *     const p = box(Point, { x: 1, y: 2 }, pool);
 *     p.value.x += 1;                          // a struct box's value is an accessor object
 *     p.get();                                 // { x: 2, y: 2 }: a plain copy
 *     p.free();                                // or `using p = box(…)`
 *
 * The block is `type`'s layout (size and alignment), zero-filled, then the initial value is
 * written: fields not given stay 0. The value is checked before anything is allocated (a
 * rejected call changes nothing); out of memory answers null. After `free()`, every use of
 * the box and of accessors taken from it throws `StaleViewError` ERR_FREED; a second
 * `free()` is `DoubleFreeError`.
 */

import type { Allocator } from "../core/allocator.js";
import { INSPECT } from "../core/describe.js";
import { DoubleFreeError } from "../core/errors.js";
import { type MemoryViews, viewAt, viewsOf } from "../memory/views.js";
import { load } from "./access.js";
import { allocatorOr } from "./global.js";
import { DISPOSE, freedError } from "./raw.js";
import { checkField, makeRef, type Owner, readValue, writeField } from "./ref.js";
import {
  type FieldInfo,
  type FieldType,
  fieldInfo,
  type InitOf,
  type RefOf,
  type ValueOf,
} from "./struct.js";

/**
 * A value of type `type` in a new block of its own (Rust's `Box::new_in`).
 *
 * @param type - a scalar name (`"u32"`), an `array(…)` or a struct type
 * @param value - the initial value, checked before anything is allocated (default: all 0)
 * @param allocator - where the block goes (default: the default allocator)
 * @returns the box, or null when out of memory
 * @throws {@link ArgumentTypeError} `ERR_ELEMENT_TYPE` (a value of the wrong type),
 *   `ERR_UNKNOWN_FIELD` (a field the struct lacks) or `ERR_STRUCT_DEFINITION` (a bad type)
 * @throws {@link ArgumentRangeError} `ERR_ELEMENT_RANGE` for a number the type cannot hold
 */
export function box<const T extends FieldType>(
  type: T,
  value?: InitOf<T>,
  allocator?: Allocator,
): Box<T> | null {
  const info: FieldInfo = { ...fieldInfo("value", type, "box"), offset: 0 };
  const a = allocatorOr(allocator);
  if (value !== undefined) checkField(info, value, "box value");
  const ptr = a.allocZeroed(info.layout.size, info.layout.align);
  if (ptr === 0) return null;
  const b = new Box<T>(type, a, ptr, info);
  if (value !== undefined) writeField(info, b.views, ptr, value);
  return b;
}

/**
 * One value (a scalar, an array or a struct) in a block of its own: Rust's `Box<T>`. Made
 * by {@link box}; `value` reads and writes it in place, `get()` copies it out, `free()` (or
 * the end of a `using` scope) gives the block back.
 */
export class Box<T extends FieldType> implements Owner {
  /**
   * The views of the allocator's memory (shared by everything reading it).
   * @internal
   */
  readonly views: MemoryViews;
  private p: number;
  private ref: object | null = null;

  /**
   * Use `box(…)`.
   *
   * @param type - the value's type
   * @param allocator - the allocator the block is in
   * @param ptr - the block's address
   * @param info - how the value is laid out
   */
  constructor(
    /** The value's type. */
    readonly type: T,
    /** The allocator the block is in. */
    readonly allocator: Allocator,
    ptr: number,
    private readonly info: FieldInfo,
  ) {
    this.p = ptr;
    this.views = viewsOf(allocator.memory);
  }

  /** The block's address (for wasm code); the block is `type`'s layout. */
  get ptr(): number {
    return this.addressOf(0);
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.p === 0;
  }

  /**
   * The value in place: a number or bigint for a scalar box, a typed array over an array
   * box's elements (valid until the memory grows), an accessor object for a struct box.
   */
  get value(): RefOf<T> {
    const f = this.info;
    const ptr = this.addressOf(0);
    if (f.struct !== null) {
      this.ref ??= makeRef(f.struct, this.views, this, 0);
      return this.ref as RefOf<T>;
    }
    if (f.kind === "array") {
      return viewAt(this.allocator.memory, f.scalar!.ctor, ptr, f.count, null) as RefOf<T>;
    }
    return load(this.views, f.scalar!.kind, ptr) as RefOf<T>;
  }

  /** Writes the value (a struct partially: the fields given). */
  set value(value: InitOf<T>) {
    this.set(value);
  }

  /** A plain copy of the value. */
  get(): ValueOf<T> {
    const f = this.info;
    const ptr = this.addressOf(0);
    if (f.struct !== null) return readValue(f.struct, this.views, ptr) as ValueOf<T>;
    if (f.kind === "array") {
      return Array.from(
        viewAt(this.allocator.memory, f.scalar!.ctor, ptr, f.count, null) as ArrayLike<unknown>,
      ) as ValueOf<T>;
    }
    return load(this.views, f.scalar!.kind, ptr) as ValueOf<T>;
  }

  /** Writes `value` (checked first; for a struct, the fields it gives). */
  set(value: InitOf<T>): void {
    const ptr = this.addressOf(0);
    checkField(this.info, value, "box value");
    writeField(this.info, this.views, ptr, value);
  }

  /** Gives the block back; the box and its accessors can no longer be used. */
  free(): void {
    if (this.p === 0) throw new DoubleFreeError("this box was freed already");
    this.allocator.dealloc(this.p, this.info.layout.size);
    this.p = 0;
  }

  /** `using b = box(…)` frees the box at the end of the scope (nothing if freed already). */
  [DISPOSE](): void {
    if (this.p !== 0) this.free();
  }

  /** @internal The block's address; throws ERR_FREED after `free()`. */
  addressOf(_index: number): number {
    if (this.p === 0) throw freedError("this box");
    return this.p;
  }

  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): unknown {
    if (this.p === 0) return "Box <freed>";
    return { Box: this.get() };
  }
}
