// Saved steps: a project's steps by name, each runnable with another payload (runners and
// admins), or opened in the new-run form to change and save again.

import { h, fill } from './dom.js';
import * as api from './api.js';
import { mayRun } from './session.js';
import { field, formAlert, parseJson, placeApiError, setFieldError, clearErrors } from './fields.js';

export const routes = [{ path: '/steps', title: 'Saved steps', render: renderSteps }];
// Offered to those who may run them; a reader who opens the page sees the list only.
export const nav = [
  { label: 'Saved steps', href: (ctx) => `/steps?project=${encodeURIComponent(ctx.project)}`, show: (s) => s.role !== 'reader' },
];

/** One page of a project's saved steps. */
export function listSavedSteps(project, cursor, signal) {
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
  return api.get(api.path`/v1/projects/${project}/steps` + query, { signal });
}

/** A saved step by name, or null. */
export async function findSavedStep(project, name, signal) {
  let cursor = null;
  do {
    const page = await listSavedSteps(project, cursor, signal);
    const found = page.items.find((item) => item.name === name);
    if (found) return found;
    cursor = page.next_cursor;
  } while (cursor);
  return null;
}

function target(step) {
  return step.type === 'lambda_custom_code' ? step.runtime : step.function_name;
}

async function renderSteps(ctx) {
  const { main, project, session, signal } = ctx;
  const runner = mayRun(session, project);
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const table = h(
    'table',
    { class: 'saved-steps' },
    h('caption', { class: 'visually-hidden' }, `Saved steps of project ${project}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    body,
  );
  const empty = h('p', { class: 'empty', hidden: true }, runner ? 'No saved steps yet: save one from the New run form.' : 'No saved steps yet.');
  fill(
    main,
    h('h1', {}, 'Saved steps'),
    h('p', { class: 'lede' }, 'in project ', h('strong', {}, project), runner ? [' · ', h('a', { href: `/new?project=${encodeURIComponent(project)}` }, 'new run')] : null),
    h('div', { class: 'table-wrap' }, table),
    empty,
    more,
  );

  let cursor = null;
  const load = async () => {
    const page = await listSavedSteps(project, cursor, signal);
    for (const item of page.items) body.append(...row(ctx, item, runner));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = body.children.length > 0;
    table.hidden = body.children.length === 0;
  };
  more.addEventListener('click', () =>
    load().catch((e) => {
      if (e.name !== 'AbortError') more.after(h('p', { class: 'error', role: 'alert' }, e.message));
    }),
  );
  await load();
}

function row(ctx, item, runner) {
  const { project, signal } = ctx;
  const kind = item.step.type === 'lambda_custom_code' ? 'Custom code' : 'Invoke';
  const cells = h(
    'tr',
    { 'data-step': item.name },
    h('th', { scope: 'row' }, item.name),
    h('td', {}, kind),
    h('td', { class: 'mono' }, target(item.step)),
    h('td', { class: 'actions' }, runner ? h('a', { href: `/new?project=${encodeURIComponent(project)}&step=${encodeURIComponent(item.name)}` }, 'Open in form') : null),
  );
  if (!runner) return [cells];
  const payload = h('textarea', { class: 'mono', rows: 4, spellcheck: 'false', name: 'payload' });
  payload.value = JSON.stringify(item.step.payload ?? {}, null, 2);
  const payloadField = field(`Payload for ${item.name}`, payload, { path: 'payload', hint: 'JSON; this run only, the saved step keeps its own.' });
  payload.addEventListener('input', () => {
    const parsed = parseJson(payload.value);
    setFieldError(payloadField, parsed.error ? `Not valid JSON: ${parsed.error}` : '');
  });
  const alertLine = formAlert();
  const run = h('button', { type: 'submit', class: 'primary' }, `Run ${item.name}`);
  const form = h('form', { class: 'run-saved', novalidate: true }, alertLine, payloadField, h('div', { class: 'actions' }, run));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([payloadField], alertLine);
    const parsed = parseJson(payload.value);
    if (parsed.error) {
      setFieldError(payloadField, `Not valid JSON: ${parsed.error}`);
      payload.focus();
      return;
    }
    run.disabled = true;
    try {
      const created = await api.post(api.path`/v1/projects/${project}/steps/${item.name}/runs`, { payload: parsed.value }, { signal });
      ctx.navigate(`/runs/${encodeURIComponent(created.id)}`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      placeApiError([payloadField], alertLine, e);
    } finally {
      run.disabled = false;
    }
  });
  const details = h('details', {}, h('summary', {}, `Run ${item.name} with another payload`), form);
  return [cells, h('tr', { class: 'detail-row' }, h('td', { colspan: 4 }, details))];
}
