// Admin pages for what grants access: key storage (metadata only, values never shown),
// tokens (the new token shown once, with copy), and webhooks (with a signing example).

import { h, fill, time } from './dom.js';
import * as api from './api.js';
import * as session from './session.js';
import { clearErrors, copyButton, field, formAlert, placeApiError, setAlert } from './fields.js';
import { listSavedSteps } from './steps.js';

const text = (name, attrs = {}) => h('input', { type: 'text', name, autocomplete: 'off', spellcheck: 'false', ...attrs });

/** PUT of a secret's raw bytes (text/plain): api.js sends JSON, key storage takes bytes. */
async function putSecret(path, value, signal) {
  const response = await fetch(`/v1/keys/${path.split('/').map(encodeURIComponent).join('/')}`, {
    method: 'PUT',
    signal,
    headers: { Authorization: `Bearer ${session.current()?.token}`, 'Content-Type': 'text/plain', Accept: 'application/json' },
    body: value,
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const e = body?.error ?? {};
    throw new api.ApiError(response.status, e.code ?? `http_${response.status}`, e.message ?? response.statusText, e.field);
  }
  return body;
}

export async function renderKeys(ctx, body) {
  const { signal } = ctx;
  const prefix = text('prefix', { type: 'search', value: ctx.query.get('prefix') ?? '', placeholder: 'payments/' });
  prefix.value = ctx.query.get('prefix') ?? '';
  const filter = h(
    'form',
    { class: 'inline-form filter', role: 'search' },
    field('Path prefix', prefix),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'List')),
  );
  const rows = h('tbody');
  const listStatus = h('p', { class: 'form-status', role: 'status', id: 'keys-status' });
  const table = h(
    'table',
    { class: 'keys' },
    h('caption', { class: 'visually-hidden' }, 'Secrets in key storage'),
    h('thead', {}, h('tr', {}, ['Path', 'Size', 'Updated'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    rows,
  );
  const load = async () => {
    const query = prefix.value ? `?prefix=${encodeURIComponent(prefix.value)}` : '';
    const page = await api.get(`/v1/keys${query}`, { signal });
    fill(rows, page.items.map((key) => keyRow(key)));
    listStatus.textContent = page.items.length ? '' : 'No secrets under this prefix.';
  };
  const keyRow = (key) => {
    const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
    const row = h('tr', { 'data-key': key.path }, h('th', { scope: 'row', class: 'mono' }, key.path), h('td', {}, `${key.size} bytes`), h('td', {}, time(key.updated_at)), h('td', { class: 'actions' }, remove));
    let armed = false;
    remove.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        remove.textContent = `Really delete ${key.path}?`;
        return;
      }
      try {
        await api.del(`/v1/keys/${key.path.split('/').map(encodeURIComponent).join('/')}`, { signal });
        listStatus.textContent = `Deleted ${key.path}.`;
        row.remove();
      } catch (e) {
        if (e.name !== 'AbortError') listStatus.textContent = e.message;
      }
    });
    return row;
  };
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.navigate(`/admin/keys${prefix.value ? `?prefix=${encodeURIComponent(prefix.value)}` : ''}`, { replace: true });
  });

  const path = field('Path', text('path', { placeholder: 'payments/aws/secret_key' }), { path: 'path', hint: 'Segments of A-Z, a-z, 0-9, ".", "_" and "-" joined by "/".' });
  const secret = field('Secret', h('input', { type: 'password', name: 'secret', autocomplete: 'new-password' }), {
    path: 'secret',
    hint: 'Stored encrypted; it is never shown again, here or anywhere.',
  });
  const alert = formAlert();
  const status = h('p', { class: 'form-status', role: 'status', id: 'key-stored' });
  const add = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('h2', {}, 'Add a secret'),
    alert,
    path,
    secret,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Store secret')),
    status,
  );
  add.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([path, secret], alert);
    status.textContent = '';
    try {
      const stored = await putSecret(path.control.value.trim(), secret.control.value, signal);
      secret.control.value = '';
      status.textContent = `Stored ${stored.path} (${stored.size} bytes).`;
      await load();
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError([path, secret], alert, e.status === 413 ? Object.assign(e, { field: 'secret' }) : e);
    }
  });
  fill(body, h('section', { 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'Secrets'), filter, h('div', { class: 'table-wrap' }, table), listStatus), add);
  await load();
}

export async function renderTokens(ctx, body) {
  const { signal } = ctx;
  const projects = await api.get('/v1/projects', { signal });
  const name = field('Name', text('name', { placeholder: 'rundeck' }), { path: 'name', hint: 'Who or what uses it.' });
  const role = field(
    'Role',
    h('select', { name: 'role' }, h('option', { value: 'runner' }, 'runner: run and read one project'), h('option', { value: 'reader' }, 'reader: read one project'), h('option', { value: 'admin' }, 'admin: everything')),
    { path: 'role' },
  );
  const project = field('Project', h('select', { name: 'project' }, projects.items.map((p) => h('option', { value: p.name }, p.name))), { path: 'project' });
  role.control.addEventListener('change', () => {
    project.hidden = role.control.value === 'admin';
  });
  const alert = formAlert();
  const shown = h('div', { class: 'token-once', hidden: true });
  const made = h('ul', { class: 'plain-list made-tokens' });
  const create = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('h2', {}, 'Create a token'),
    alert,
    name,
    role,
    project,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create token')),
  );
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([name, role, project], alert);
    const wanted = { name: name.control.value, role: role.control.value };
    if (wanted.role !== 'admin') wanted.project = project.control.value;
    try {
      const created = await api.post('/v1/tokens', wanted, { signal });
      showOnce(shown, created);
      made.append(tokenItem(created, signal));
      name.control.value = '';
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError([name, role, project], alert, e);
    }
  });

  const revokeId = field('Token id', text('token_id', { placeholder: '00000000-0000-0000-0000-000000000000' }), { path: 'id', hint: 'The id shown when the token was created.' });
  const revokeAlert = formAlert();
  const revokeStatus = h('p', { class: 'form-status', role: 'status' });
  const revoke = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('h2', {}, 'Revoke a token'),
    h('p', {}, 'The API does not list tokens; revoke one by the id it was created with.'),
    revokeAlert,
    revokeId,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Revoke')),
    revokeStatus,
  );
  revoke.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([revokeId], revokeAlert);
    revokeStatus.textContent = '';
    const id = revokeId.control.value.trim();
    try {
      await api.del(api.path`/v1/tokens/${id}`, { signal });
      revokeStatus.textContent = `Revoked ${id}.`;
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError([revokeId], revokeAlert, Object.assign(e, { field: 'id' }));
    }
  });
  fill(body, create, shown, h('section', { 'aria-labelledby': 'made-title' }, h('h2', { id: 'made-title' }, 'Created on this page'), made), revoke);
}

function showOnce(box, created) {
  const value = h('input', { type: 'text', readonly: true, class: 'mono', id: 'new-token', 'aria-describedby': 'new-token-warning' });
  value.value = created.token;
  fill(
    box,
    h('h2', {}, `Token ${created.name}`),
    h('p', { class: 'warning', id: 'new-token-warning', role: 'alert' }, 'Copy it now: this is the only time it is shown. Only its hash is kept.'),
    h('label', { for: 'new-token' }, 'Token'),
    h('div', { class: 'copy-row' }, value, copyButton('Copy token', () => created.token)),
    h('p', {}, 'Id ', h('code', {}, created.id), ` · ${created.role}${created.project ? ` of ${created.project}` : ''}`),
  );
  box.hidden = false;
  value.focus();
  value.select();
}

function tokenItem(created, signal) {
  const button = h('button', { type: 'button', class: 'danger' }, 'Revoke');
  const item = h('li', { 'data-token-id': created.id }, `${created.name} · ${created.role}${created.project ? ` of ${created.project}` : ''} · `, h('code', {}, created.id), ' ', button);
  button.addEventListener('click', async () => {
    try {
      await api.del(api.path`/v1/tokens/${created.id}`, { signal });
      button.replaceWith(h('span', { class: 'badge' }, 'revoked'));
    } catch (e) {
      if (e.name !== 'AbortError') item.append(h('span', { class: 'error', role: 'alert' }, ` ${e.message}`));
    }
  });
  return item;
}

export async function renderWebhooks(ctx, body) {
  const { signal } = ctx;
  const projects = await api.get('/v1/projects', { signal });
  const project = field('Project', h('select', { name: 'project' }, projects.items.map((p) => h('option', { value: p.name, selected: p.name === ctx.project }, p.name))), { path: 'project' });
  const step = field('Saved step', h('select', { name: 'step' }), { path: 'step', hint: "The hook's body becomes this step's payload." });
  const secret = field('Secret', text('secret'), { path: 'secret', hint: 'Optional, at least 16 characters: callers must then sign their requests with it.' });
  const generate = h('button', { type: 'button', class: 'secondary' }, 'Generate a secret');
  generate.addEventListener('click', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    secret.control.value = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  });
  secret.append(generate);
  const loadSteps = async () => {
    const options = [];
    let cursor = null;
    do {
      const page = await listSavedSteps(project.control.value, cursor, signal);
      options.push(...page.items.map((s) => h('option', { value: s.name }, s.name)));
      cursor = page.next_cursor;
    } while (cursor);
    fill(step.control, options.length ? options : h('option', { value: '' }, '(no saved steps in this project)'));
  };
  project.control.addEventListener('change', () => loadSteps().catch(() => {}));
  const alert = formAlert();
  const result = h('div', { class: 'webhook-created', hidden: true });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true },
    h('h2', {}, 'Create a webhook'),
    alert,
    project,
    step,
    secret,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create webhook')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors([project, step, secret], alert);
    const wanted = { step: step.control.value };
    const secretValue = secret.control.value;
    if (secretValue) wanted.secret = secretValue;
    try {
      const created = await api.post(api.path`/v1/projects/${project.control.value}/webhooks`, wanted, { signal });
      showHook(result, created, Boolean(secretValue));
    } catch (e) {
      if (e.name !== 'AbortError') placeApiError([project, step, secret], alert, e);
    }
  });
  fill(body, form, result);
  await loadSteps();
  if (!step.control.value) setAlert(alert, 'This project has no saved steps: save one from the New run form first.');
}

/** The hook's URL and a curl that calls it, signed as `POST /v1/hooks/{id}` checks. */
function showHook(box, created, signed) {
  const url = `${location.origin}${created.url}`;
  const example = signed
    ? [
        `SECRET='the secret you set'`,
        `BODY='{"host": "worker-3"}'`,
        'TS=$(date +%s)',
        `SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`,
        `curl -sS -X POST '${url}' -H 'Content-Type: application/json' \\`,
        `  -H "X-Lambda-Steps-Timestamp: $TS" -H "X-Lambda-Steps-Signature: sha256=$SIG" -d "$BODY"`,
      ].join('\n')
    : `curl -sS -X POST '${url}' -H 'Content-Type: application/json' -d '{"host": "worker-3"}'`;
  fill(
    box,
    h('h2', {}, 'Webhook created'),
    h('p', {}, 'POST to ', h('code', { class: 'hook-url' }, url), ' ', copyButton('Copy URL', () => url)),
    h(
      'p',
      {},
      signed
        ? 'Each request is signed: X-Lambda-Steps-Timestamp is the unix time in seconds (within 5 minutes), X-Lambda-Steps-Signature is sha256= and the hex HMAC-SHA256 of "{timestamp}.{body}" under the secret.'
        : 'This hook has no secret: anyone with its URL can call it.',
    ),
    h('pre', { class: 'signing-example' }, h('code', {}, example)),
    copyButton('Copy example', () => example),
  );
  box.hidden = false;
}
