/**
 * Which allocators have regions carved from them that are still in use (compose/child.ts
 * records each carving here and removes it when the region is given back). A parent's
 * `drop()` asks first and refuses while any is alive: dropping it would end the handle that
 * owns the block under the child, and a parent attached again later would reuse the child's
 * bytes while the child still hands them out.
 *
 * The records are weak: a parent that is garbage-collected takes its entry with it.
 */

/** What a parent's record says about each live carving: for the refusal's message. */
export interface Dependent {
  /** `[start, end)` of the carved region, and the allocator built on it, if any. */
  describe(): string;
}

const live = new WeakMap<object, Set<Dependent>>();

/** Records `dependent` (a carving) as alive inside `parent`. */
export function addDependent(parent: object, dependent: Dependent): void {
  let set = live.get(parent);
  if (set === undefined) {
    set = new Set();
    live.set(parent, set);
  }
  set.add(dependent);
}

/** Forgets `dependent`: its region went back to `parent`. */
export function removeDependent(parent: object, dependent: Dependent): void {
  const set = live.get(parent);
  if (set === undefined) return;
  set.delete(dependent);
  if (set.size === 0) live.delete(parent);
}

/** The carvings of `parent` still alive, oldest first (empty when there are none). */
export function dependentsOf(parent: object): readonly Dependent[] {
  const set = live.get(parent);
  return set === undefined ? [] : [...set];
}
