// Form fields for the new-run, saved-step and admin pages: a label, the control, an
// optional hint and an error line the control is described by; and the API's 422 placed
// beside the field its `field` path names (`step.environment.X` lands on the environment
// field), or at the top of the form when no field has that name.

import { h } from './dom.js';

let serial = 0;

// These pages' styles, loaded once beside the console's stylesheet (same origin, so the
// Content-Security-Policy allows it).
if (!document.querySelector('link[data-forms-css]')) {
  document.head.append(h('link', { rel: 'stylesheet', href: new URL('./forms.css', import.meta.url).href, 'data-forms-css': true }));
}

/** A fresh id for a control, unique in the page. */
export function nextId(stem = 'f') {
  serial += 1;
  return `${stem}-${serial}`;
}

/**
 * A labelled field. `path` is the API's name for it (`step.payload`, `name`...), used to
 * place a 422 beside it. Answers the wrapper, with `.control` and `.path`.
 */
export function field(label, control, { path, hint } = {}) {
  if (!control.id) control.id = nextId('field');
  const id = control.id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const hintLine = hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), control, hintLine, error);
  wrap.control = control;
  wrap.path = path;
  wrap.errorLine = error;
  wrap.hintLine = hintLine;
  describe(wrap, false);
  return wrap;
}

function describe(wrap, invalid) {
  const ids = [];
  if (wrap.hintLine) ids.push(wrap.hintLine.id);
  if (invalid) ids.push(wrap.errorLine.id);
  if (ids.length) wrap.control.setAttribute('aria-describedby', ids.join(' '));
  else wrap.control.removeAttribute('aria-describedby');
}

/** Shows (or, with an empty message, clears) a field's error. */
export function setFieldError(wrap, message) {
  wrap.errorLine.textContent = message || '';
  wrap.errorLine.hidden = !message;
  if (message) wrap.control.setAttribute('aria-invalid', 'true');
  else wrap.control.removeAttribute('aria-invalid');
  describe(wrap, Boolean(message));
}

/** A form-level alert line, for errors no field owns. */
export function formAlert() {
  return h('p', { class: 'form-alert', role: 'alert', hidden: true });
}

export function setAlert(alert, message) {
  alert.textContent = message || '';
  alert.hidden = !message;
}

/**
 * Places an ApiError (api.js) beside the field whose path is the longest prefix of its
 * `field` (`step.environment.X` lands on `step.environment`), else in the form's alert.
 * Answers the field it landed on, if any.
 */
export function placeApiError(fields, alert, error) {
  const message = error.message || `the service answered ${error.status}`;
  const path = error.field || '';
  let best = null;
  for (const wrap of fields) {
    if (!wrap.path || wrap.closest('[hidden]')) continue;
    const matches = path === wrap.path || path.startsWith(`${wrap.path}.`);
    if (matches && (!best || wrap.path.length > best.path.length)) best = wrap;
  }
  // The API's message names its field already ("step.timeout_seconds must be ...").
  if (best) {
    setFieldError(best, message);
    best.control.focus();
    return best;
  }
  setAlert(alert, message);
  return null;
}

/** Clears every field error and the alert. */
export function clearErrors(fields, alert) {
  for (const wrap of fields) setFieldError(wrap, '');
  if (alert) setAlert(alert, '');
}

/** Parses `KEY=VALUE` lines (blank lines and `#` comments skipped) into an object. */
export function parsePairs(text) {
  const pairs = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`line ${i + 1}: expected KEY=VALUE`);
    pairs[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return pairs;
}

/** `KEY=VALUE` lines of an object. */
export function pairsText(object) {
  return Object.entries(object || {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/** Parses JSON text, answering `{value}` or `{error}` with the parser's message. */
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: e.message };
  }
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(label, text) {
  const button = h('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy it by hand';
    }
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  });
  return button;
}
