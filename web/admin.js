// Admin pages (admin token only; nobody else is offered them): projects and their
// settings, key storage, tokens and webhooks. Secrets go in and never come back out:
// keys show metadata only, a token is shown once, settings hold key paths.

import { h, fill, time } from './dom.js';
import * as api from './api.js';
import { isAdmin } from './session.js';
import { clearErrors, field, formAlert, placeApiError } from './fields.js';
import { renderKeys, renderTokens, renderWebhooks } from './admin_access.js';
import { SETTING_HINTS } from './spec.js';

const SECTIONS = [
  ['/admin', 'Projects'],
  ['/admin/keys', 'Keys'],
  ['/admin/tokens', 'Tokens'],
  ['/admin/webhooks', 'Webhooks'],
];

/** Draws an admin page after the admin check, under the admin section's own nav. */
function adminPage(title, draw) {
  return async (ctx) => {
    if (!isAdmin(ctx.session)) {
      fill(ctx.main, h('h1', {}, 'Admin'), h('p', { class: 'notice' }, 'These pages need an admin token.'));
      return;
    }
    const here = location.pathname;
    const subnav = h(
      'nav',
      { class: 'subnav', 'aria-label': 'Admin' },
      SECTIONS.map(([href, label]) => h('a', { href, 'aria-current': here === href ? 'page' : null }, label)),
    );
    const body = h('div', { class: 'admin-body' });
    fill(ctx.main, h('h1', {}, title), subnav, body);
    await draw(ctx, body);
  };
}

export const routes = [
  { path: '/admin', title: 'Projects', render: adminPage('Projects', renderProjects) },
  { path: '/admin/projects/:project', title: 'Project settings', render: adminPage('Project settings', renderSettings) },
  { path: '/admin/keys', title: 'Key storage', render: adminPage('Key storage', renderKeys) },
  { path: '/admin/tokens', title: 'Tokens', render: adminPage('Tokens', renderTokens) },
  { path: '/admin/webhooks', title: 'Webhooks', render: adminPage('Webhooks', renderWebhooks) },
];
export const nav = [{ label: 'Admin', href: '/admin', show: (s) => isAdmin(s) }];

async function renderProjects(ctx, body) {
  const { signal } = ctx;
  const list = h('ul', { class: 'plain-list projects' });
  const name = field('Name', h('input', { type: 'text', name: 'project', autocomplete: 'off', spellcheck: 'false', placeholder: 'payments' }), {
    path: 'project',
    hint: '1 to 63 of a-z, 0-9, - and _.',
  });
  const alert = formAlert();
  const status = h('p', { class: 'form-status', role: 'status' });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('h2', {}, 'Create a project'),
    alert,
    name,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create project')),
    status,
  );
  const load = async () => {
    const page = await api.get('/v1/projects', { signal });
    fill(
      list,
      page.items.map((p) =>
        h(
          'li',
          { 'data-project': p.name },
          h('a', { href: `/admin/projects/${encodeURIComponent(p.name)}` }, p.name),
          ' · created ',
          time(p.created_at),
          ' · ',
          h('a', { href: `/runs?project=${encodeURIComponent(p.name)}` }, 'runs'),
        ),
      ),
    );
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([name], alert);
    status.textContent = '';
    const project = name.control.value.trim();
    try {
      await api.put(api.path`/v1/projects/${project}`, undefined, { signal });
      status.textContent = `Project ${project} is there.`;
      name.control.value = '';
      await load();
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError([name], alert, e.field ? e : Object.assign(e, { field: 'project' }));
    }
  });
  fill(body, h('section', { 'aria-labelledby': 'projects-list' }, h('h2', { id: 'projects-list' }, 'Projects'), list), form);
  await load();
}

async function renderSettings(ctx, body) {
  const { signal } = ctx;
  const project = ctx.params.project;
  const settings = await api.get(api.path`/v1/projects/${project}/settings`, { signal });
  const fields = [];
  const rows = Object.entries(settings).map(([key, resolved]) => {
    const control = h('input', { type: 'text', name: key, autocomplete: 'off', spellcheck: 'false' });
    if (resolved.source === 'project') control.value = resolved.value ?? '';
    else control.placeholder = resolved.value ?? '';
    const inherited = resolved.source && resolved.source !== 'project';
    const hint = [SETTING_HINTS[key] ?? '', inherited ? ` Now ${resolved.value} from the ${resolved.source}.` : resolved.source ? '' : ' Not set.'].join('');
    const wrap = field(key.replace('project.aws.', ''), control, { path: key, hint: hint.trim() });
    wrap.dataset.setting = key;
    wrap.append(h('span', { class: `badge source source-${resolved.source ?? 'unset'}`, 'data-source': resolved.source ?? 'unset' }, resolved.source ?? 'not set'));
    fields.push(wrap);
    return wrap;
  });
  const alert = formAlert();
  const status = h('p', { class: 'form-status', role: 'status' });
  const form = h(
    'form',
    { class: 'settings', novalidate: true },
    h('p', {}, 'A value set here overrides the framework setting; leave a field empty to use the framework or default value (shown greyed).'),
    alert,
    rows,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, alert);
    status.textContent = '';
    const values = {};
    for (const wrap of fields) {
      const value = wrap.control.value.trim();
      if (value) values[wrap.path] = value;
    }
    try {
      await api.put(api.path`/v1/projects/${project}/settings`, values, { signal });
      await renderSettings(ctx, body);
      body.querySelector('.form-status').textContent = 'Saved.';
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError(fields, alert, e);
    }
  });
  fill(
    body,
    h('p', { class: 'lede' }, 'Project ', h('strong', {}, project), ' · ', h('a', { href: '/admin' }, 'all projects')),
    form,
  );
}
