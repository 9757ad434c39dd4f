// A small DOM helper: h('a', {href: '/runs', class: 'x'}, 'text', child). Text always goes
// in as text nodes (never HTML), so nothing the API returns can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the content of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status badge: <span class="badge status-failed">failed</span>. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, 'data-status': status }, status.replace('_', ' '));
}

/** "1.2 s", "340 ms", "3 min 4 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A time as the reader's local date and time, with the exact UTC instant on hover. */
export function time(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  return h('time', { datetime: iso, title: iso }, at.toLocaleString());
}
