// The pages find their elements by the same `data-testid` the tests use, and
// build their tables here.

/** The element with `data-testid="testId"`; a missing one is a bug in the page. */
export function $<T extends Element = HTMLElement>(testId: string): T {
  const element = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!element) throw new Error(`missing element ${testId}`);
  return element;
}

/** What a table cell holds: text, or elements such as buttons. */
export type Cell = string | Node | Node[];

/**
 * Replaces `table`'s header and rows; `empty` stands in for no rows. `data[i]`
 * goes into row i's `data-*` attributes (what the page and its tests find it by).
 */
export function fillTable(
  table: HTMLTableElement,
  header: string[],
  rows: Cell[][],
  empty = 'Nothing in this range.',
  data: Record<string, string>[] = [],
): void {
  const head = table.createTHead();
  head.replaceChildren(tableRow('th', header));
  const body = table.tBodies[0] ?? table.createTBody();
  if (rows.length) {
    body.replaceChildren(...rows.map((cells, i) => {
      const row = tableRow('td', cells);
      Object.assign(row.dataset, data[i]);
      return row;
    }));
  } else {
    const placeholder = tableRow('td', [empty]);
    placeholder.cells[0]!.colSpan = header.length;
    body.replaceChildren(placeholder);
  }
}

/** One row of `tag` cells. */
export function tableRow(tag: 'td' | 'th', cells: Cell[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const content of cells) {
    const cell = document.createElement(tag);
    if (typeof content === 'string') cell.textContent = content;
    else cell.append(...[content].flat());
    tr.append(cell);
  }
  return tr;
}

/** A `<button type="button">` that runs `onClick`. */
export function button(label: string, testId: string, onClick: () => void, className = 'secondary small'): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.className = className;
  element.dataset.testid = testId;
  element.addEventListener('click', onClick);
  return element;
}

/** Buttons side by side in a table cell. */
export function actions(...buttons: HTMLButtonElement[]): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'row-actions';
  span.append(...buttons);
  return span;
}
