// The pieces every view shares: a sortable, searchable table, a modal dialog, buttons.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";

// columns: [{ key, label, value(row) for sorting/search, render(row) }]
export function Table({ columns, rows, rowKey, onOpen, empty, label, initialSort }) {
  const [sort, setSort] = useState(initialSort || { key: columns[0].key, dir: 1 });
  const col = columns.find((c) => c.key === sort.key) || columns[0];
  const sorted = [...rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
  });
  if (!rows.length) return html`<div class="empty" role="status">${empty}</div>`;
  return html`<table aria-label=${label}>
    <thead>
      <tr>
        ${columns.map(
          (c) => html`<th
            scope="col"
            aria-sort=${c.key === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none"}
            class=${c.className || ""}
          >
            ${c.value
              ? html`<button
                  class="sort"
                  onClick=${() => setSort({ key: c.key, dir: c.key === sort.key ? -sort.dir : 1 })}
                >
                  ${c.label}<span aria-hidden="true">${c.key === sort.key ? (sort.dir > 0 ? " ▲" : " ▼") : ""}</span>
                </button>`
              : c.label}
          </th>`,
        )}
      </tr>
    </thead>
    <tbody>
      ${sorted.map(
        (r) => html`<tr
          key=${rowKey(r)}
          tabindex=${onOpen ? 0 : undefined}
          class=${onOpen ? "openable" : ""}
          onClick=${onOpen ? (e) => !e.target.closest("button,a,input") && onOpen(r) : undefined}
          onKeyDown=${onOpen ? (e) => e.key === "Enter" && e.target === e.currentTarget && onOpen(r) : undefined}
        >
          ${columns.map((c) => html`<td class=${c.className || ""}>${c.render ? c.render(r) : c.value(r)}</td>`)}
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function Dialog({ title, onClose, children }) {
  const ref = useRef();
  useEffect(() => {
    const d = ref.current;
    d.showModal();
    const first = d.querySelector("input,textarea,select,button");
    first && first.focus();
  }, []);
  return html`<dialog ref=${ref} aria-label=${title} onClose=${onClose} onCancel=${onClose}>
    <header><h2>${title}</h2><button class="icon" aria-label="Close dialog" onClick=${onClose}>×</button></header>
    ${children}
  </dialog>`;
}

export function Search({ value, onInput, placeholder }) {
  return html`<input
    type="search"
    class="search"
    aria-label=${placeholder}
    placeholder=${placeholder}
    value=${value}
    onInput=${(e) => onInput(e.target.value)}
  />`;
}

// Runs an action, reporting its error in the app's banner.
export function useAction(report) {
  const [busy, setBusy] = useState(false);
  const run = async (fn) => {
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      report(e.message || String(e));
    } finally {
      setBusy(false);
    }
  };
  return [busy, run];
}
