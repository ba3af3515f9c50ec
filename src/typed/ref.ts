/**
 * Accessor objects ("refs") for struct values in memory, and whole-value reads and writes.
 *
 * A ref's properties are the struct's fields: a scalar field reads and writes the number or
 * bigint in memory, an array field gives a typed array over its elements (valid until the
 * memory next grows; read the property again after), a nested struct field gives a ref of
 * the nested value. The getters and setters live on one prototype per struct type; a ref
 * itself holds only its `Home` under a symbol, so `Object.keys(ref)` is empty and no field
 * name can clash with a method.
 *
 * A ref's address is found on every access from its home: a fixed pointer (`at(ptr)`), or an
 * owner and an index (a box, an element of a struct vector), which is how a ref notices that
 * its owner was freed (`StaleViewError` ERR_FREED) or that its element is gone (ERR_STALE_VIEW)
 * instead of reading memory that belongs to someone else now, and how a ref of a vector's
 * element follows the vector when it grows and moves.
 */

import { INSPECT } from "../core/describe.js";
import { ArgumentTypeError } from "../core/errors.js";
import { type MemoryViews, type TypedArray, viewAt } from "../memory/views.js";
import { load, store } from "./access.js";
import { checkValue, describe, type Scalar, type ScalarValue } from "./scalars.js";
import type { AnyStruct, FieldInfo, Fields, RefOf, StructInit, StructValue } from "./struct.js";

/** An accessor object: the struct's fields as properties (see the module comment). */
export type StructRef<F extends Fields> = {
  -readonly [K in keyof F as F[K] extends Scalar ? K : never]: ScalarValue<Extract<F[K], Scalar>>;
} & {
  readonly [K in keyof F as F[K] extends Scalar ? never : K]: RefOf<F[K]>;
};

/** Something that holds values at indices and knows where they are now. */
export interface Owner {
  /** The address of value `index`; throws when the owner was freed or the value is gone. */
  addressOf(index: number): number;
}

/** Where a ref's value is: `parent`'s address + `offset`, or the owner's value, or `offset`. */
class Home {
  constructor(
    readonly views: MemoryViews,
    readonly owner: Owner | null,
    readonly index: number,
    readonly parent: Home | null,
    readonly offset: number,
  ) {}

  address(): number {
    if (this.parent !== null) return this.parent.address() + this.offset;
    return this.owner === null ? this.offset : this.owner.addressOf(this.index);
  }
}

const HOME = Symbol("memkit.ref.home");
type Ref = { [HOME]: Home };

const protos = new WeakMap<AnyStruct, object>();

/**
 * A ref of the value at `ptr` (owner null), or of value `index` of `owner`.
 * The caller has checked the place.
 */
export function makeRef(
  type: AnyStruct,
  views: MemoryViews,
  owner: Owner | null,
  ptrOrIndex: number,
): object {
  const home =
    owner === null
      ? new Home(views, null, 0, null, ptrOrIndex)
      : new Home(views, owner, ptrOrIndex, null, 0);
  return refAt(type, home);
}

function refAt(type: AnyStruct, home: Home): object {
  const ref = Object.create(protoOf(type)) as Ref;
  ref[HOME] = home;
  return ref;
}

function protoOf(type: AnyStruct): object {
  let proto = protos.get(type);
  if (proto === undefined) {
    proto = buildProto(type);
    protos.set(type, proto);
  }
  return proto;
}

function buildProto(type: AnyStruct): object {
  const proto: Record<PropertyKey, unknown> = {};
  for (const f of type.fields) {
    const off = f.offset;
    let desc: PropertyDescriptor;
    if (f.struct !== null) {
      const nested = f.struct;
      desc = {
        get(this: Ref) {
          const h = this[HOME];
          return refAt(nested, new Home(h.views, null, 0, h, off));
        },
      };
    } else if (f.kind === "array") {
      const ctor = f.scalar!.ctor;
      const count = f.count;
      desc = {
        get(this: Ref): TypedArray {
          const h = this[HOME];
          return viewAt(h.views.memory, ctor, h.address() + off, count, null);
        },
      };
    } else {
      const s = f.scalar!;
      const kind = s.kind;
      const what = `${type.name}.${f.name}`;
      desc = {
        get(this: Ref) {
          const h = this[HOME];
          return load(h.views, kind, h.address() + off);
        },
        set(this: Ref, x: number | bigint) {
          checkValue(s.kind, x, what);
          const h = this[HOME];
          store(h.views, kind, h.address() + off, x);
        },
      };
    }
    Object.defineProperty(proto, f.name, { ...desc, enumerable: true, configurable: false });
  }
  // `console.log(ref)` prints the value it points at (or why it cannot: never a throw).
  proto[INSPECT] = function (this: Ref) {
    const h = this[HOME];
    try {
      return readValue(type, h.views, h.address());
    } catch (e) {
      return `${type.name} <${(e as { code?: string }).code ?? "unreadable"}>`;
    }
  };
  return Object.freeze(proto);
}

/** Where an accessor's value is now (for wasm code); ERR_FREED when its owner was freed. */
export function addressOf(ref: object): number {
  const home = (ref as Partial<Ref> | null)?.[HOME];
  if (!(home instanceof Home)) {
    throw new ArgumentTypeError(
      `addressOf takes a struct accessor, got ${describe(ref)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  return home.address();
}

/** The value at `a` as a plain object. */
export function readValue(type: AnyStruct, v: MemoryViews, a: number): StructValue<Fields> {
  const out: Record<string, unknown> = {};
  for (const f of type.fields) {
    const at = a + f.offset;
    if (f.struct !== null) {
      out[f.name] = readValue(f.struct, v, at);
    } else if (f.kind === "array") {
      const s = f.scalar!;
      const kind = s.kind;
      const items: (number | bigint)[] = [];
      for (let i = 0; i < f.count; i++) items.push(load(v, kind, at + i * s.size));
      out[f.name] = items;
    } else {
      out[f.name] = load(v, f.scalar!.kind, at);
    }
  }
  return out as StructValue<Fields>;
}

/**
 * Throws unless `init` is a valid partial value of `type`: an object whose every key is a
 * field (ERR_UNKNOWN_FIELD) holding a value of the field's type (ERR_ELEMENT_TYPE / RANGE).
 */
export function checkInit(type: AnyStruct, init: unknown, path = type.name): void {
  if (init === null || typeof init !== "object" || Array.isArray(init)) {
    throw new ArgumentTypeError(
      `${path} must be given an object of field values, got ${describe(init)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  for (const key of Object.keys(init)) {
    checkField(type.field(key), (init as Record<string, unknown>)[key], `${path}.${key}`);
  }
}

/** Throws unless `x` is a valid value of field `f` (a struct's partially). */
export function checkField(f: FieldInfo, x: unknown, what: string): void {
  if (f.struct !== null) checkInit(f.struct, x, what);
  else if (f.kind === "array") checkItems(f.scalar!.kind, f.count, x, what);
  else checkValue(f.scalar!.kind, x, what);
}

/** Throws unless `x` is an array-like of exactly `count` values passing `check`. */
function checkItems(
  check: Parameters<typeof checkValue>[0],
  count: number,
  x: unknown,
  what: string,
): void {
  const list = x as ArrayLike<unknown> | null;
  if (list === null || typeof list !== "object" || list.length !== count) {
    throw new ArgumentTypeError(
      `${what} must be an array of ${count} values, got ${describe(x)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  for (let i = 0; i < count; i++) checkValue(check, list[i], `${what}[${i}]`);
}

/** Writes the fields `init` gives (checked with `checkInit`) at `a`. */
export function writeInit(
  type: AnyStruct,
  v: MemoryViews,
  a: number,
  init: StructInit<Fields>,
): void {
  for (const key of Object.keys(init)) {
    const f = type.field(key);
    writeField(f, v, a + f.offset, (init as Record<string, unknown>)[key]);
  }
}

/** Writes `x` (checked with `checkField`) as field `f` at byte `a`. */
export function writeField(f: FieldInfo, v: MemoryViews, a: number, x: unknown): void {
  if (f.struct !== null) {
    writeInit(f.struct, v, a, x as StructInit<Fields>);
  } else if (f.kind === "array") {
    const s = f.scalar!;
    const kind = s.kind;
    const items = x as ArrayLike<number | bigint>;
    for (let i = 0; i < items.length; i++) store(v, kind, a + i * s.size, items[i]);
  } else {
    store(v, f.scalar!.kind, a, x as number | bigint);
  }
}
