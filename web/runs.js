// The runs of a project, newest first, with live statuses:
// /runs?project=p&status=s&cursor=c (and &limit=n, 50 by default).

import { h, fill, statusBadge, duration, time } from './dom.js';
import * as api from './api.js';
import { STATUSES } from './spec.js';

const REFRESH_MS = 2000;

export const routes = [{ path: '/runs', title: 'Runs', render }];
export const nav = [{ label: 'Runs', href: (ctx) => `/runs?project=${encodeURIComponent(ctx.project)}` }];

/** What a step runs: its function, or its runtime. */
export function target(step) {
  if (step?.type === 'lambda_invoke') return step.function_name + (step.qualifier ? `:${step.qualifier}` : '');
  if (step?.type === 'lambda_custom_code') return step.runtime;
  return '';
}

export function kind(step) {
  return { lambda_invoke: 'Invoke', lambda_custom_code: 'Custom code' }[step?.type] ?? step?.type ?? '';
}

export function runDuration(run, now = Date.now()) {
  if (!run.started_at) return null;
  const end = run.finished_at ? Date.parse(run.finished_at) : now;
  return end - Date.parse(run.started_at);
}

function url(project, status, cursor, limit) {
  const q = new URLSearchParams({ project });
  if (status) q.set('status', status);
  if (limit) q.set('limit', limit);
  if (cursor) q.set('cursor', cursor);
  return `/runs?${q}`;
}

async function render(ctx) {
  const { main, query, signal } = ctx;
  const status = query.get('status') || '';
  const cursor = query.get('cursor') || '';
  const limit = query.get('limit') || '';
  let project = query.get('project');
  const projects = await api.get('/v1/projects', { signal });
  const names = projects.items.map((p) => p.name);
  if (!project) {
    project = ctx.session.project || (names.includes('default') ? 'default' : names[0]) || 'default';
    ctx.navigate(url(project, status, cursor, limit), { replace: true });
    return;
  }
  if (!names.includes(project)) names.push(project);

  const projectPicker = h('select', { id: 'project', name: 'project' },
    names.map((name) => h('option', { value: name, selected: name === project }, name)));
  const statusPicker = h('select', { id: 'status', name: 'status' },
    h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s.replace('_', ' '))));
  projectPicker.addEventListener('change', () => ctx.navigate(url(projectPicker.value, statusPicker.value, '', limit)));
  statusPicker.addEventListener('change', () => ctx.navigate(url(projectPicker.value, statusPicker.value, '', limit)));

  const body = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const note = h('p', { class: 'muted', role: 'status' });
  fill(main,
    h('h1', {}, 'Runs'),
    h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'project' }, 'Project'), projectPicker,
      h('label', { for: 'status' }, 'Status'), statusPicker),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'runs' },
        h('thead', {}, h('tr', {},
          ['Status', 'Step', 'Target', 'Started', 'Duration', 'Run'].map((c) => h('th', { scope: 'col' }, c)))),
        body)),
    note,
    pager);

  const refresh = async () => {
    const q = new URLSearchParams({ limit: limit || '50' });
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    const page = await api.get(`${api.path`/v1/projects/${project}/runs`}?${q}`, { signal });
    // Rows whose run did not change stay as they are, so a focused link keeps its focus.
    const before = new Map([...body.children].map((tr) => [tr.dataset.run, tr]));
    fill(body, page.items.map((run) => {
      const kept = before.get(run.id);
      return kept && kept.dataset.version === version(run) ? kept : row(run);
    }));
    fill(note, page.items.length ? '' : (status ? `No ${status.replace('_', ' ')} runs in ${project}.` : `No runs in ${project} yet.`));
    fill(pager,
      cursor ? h('a', { href: url(project, status, '', limit) }, 'First page') : null,
      page.next_cursor ? h('a', { href: url(project, status, page.next_cursor, limit), rel: 'next', id: 'next-page' }, 'Next page') : null);
    return page;
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}

/** What a row shows that can change; a running run's duration changes every time. */
function version(run) {
  return run.finished_at ? `${run.status} ${run.started_at} ${run.finished_at}` : `${run.status} ${Date.now()}`;
}

function row(run) {
  const link = `/runs/${run.id}`;
  return h('tr', { 'data-run': run.id, 'data-version': version(run) },
    h('td', {}, statusBadge(run.status)),
    h('td', {}, kind(run.step)),
    h('td', { class: 'mono' }, target(run.step)),
    h('td', {}, run.started_at ? time(run.started_at) : h('span', { class: 'muted' }, 'not yet')),
    h('td', { class: 'num' }, duration(runDuration(run))),
    h('td', {}, h('a', { href: link, class: 'mono' }, run.id.slice(0, 8))));
}
