// The pages find their elements by the same `data-testid` the tests use.

/** The element with `data-testid="testId"`; a missing one is a bug in the page. */
export function $<T extends Element>(testId: string): T {
  const element = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!element) throw new Error(`missing element ${testId}`);
  return element;
}
