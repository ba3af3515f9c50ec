/** What `fn` throws, or `undefined` when it returns: for asserting an error's class and code. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
