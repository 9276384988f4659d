// The few DOM helpers every page shares: build elements, clone the page templates of index.html,
// render a table from column descriptions, show a "not available" note.

/** h('td', {class: 'num'}, '12'): an element with attributes (on… are listeners) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return element;
}

/** The content of <template id="…"> as a fresh element tree. */
export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/**
 * A table of `rows`; each column is {label, value(row) → text or node, numeric?}. `footer` (optional)
 * is one more row, e.g. totals; `rowAttributes(row)` gives each row's attributes (e.g. data-key-id).
 */
export function table(columns, rows, { footer, empty = 'Nothing yet.', rowAttributes = () => ({}) } = {}) {
  const align = (column) => ({ class: column.numeric ? 'num' : undefined });
  const cell = (tag, column, row) => h(tag, align(column), column.value(row));
  const head = h('thead', {}, h('tr', {}, columns.map((c) => h('th', align(c), c.label))));
  const body = rows.length
    ? rows.map((row) => h('tr', rowAttributes(row), columns.map((c) => cell('td', c, row))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))];
  const foot = footer && rows.length ? h('tfoot', {}, h('tr', {}, columns.map((c) => cell('td', c, footer)))) : null;
  return h('table', {}, head, h('tbody', {}, body), foot);
}

/**
 * What a page shows where the gateway refused the question (an older version without the endpoint or
 * grouping, or a range beyond retention): the gateway's own reason.
 */
export function unavailable(what, err) {
  return h('p', { class: 'note unavailable' }, `${what} is not available: ${err.message}`);
}

/** A failed load that is not "not available": the message, plainly. */
export function failure(what, err) {
  return h('p', { class: 'note error', role: 'alert' }, `${what} could not be loaded: ${err.message}`);
}
