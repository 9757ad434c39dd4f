// The console's router: the URL names what is shown (`/runs?project=p&status=failed`,
// `/runs/{id}#L12`), so any page can be reloaded, bookmarked and shared.
//
// How a page plugs in: write `web/<name>.js` exporting
//
//   export const routes = [{ path: '/new', title: 'New run', render: async (ctx) => { ... } }];
//   export const nav = [{ label: 'New run', href: (ctx) => `/new?project=${ctx.project}`,
//                         show: (session) => session.role !== 'reader' }];   // optional
//
// and add its file name to PAGES below (that one line is the only edit here). `path` may
// hold `:name` segments, given as ctx.params.name. `render(ctx)` draws into ctx.main and
// gets: ctx.params, ctx.query (URLSearchParams), ctx.session ({token, role, project}),
// ctx.project (the project the URL names, else the token's, else 'default'),
// ctx.navigate(url, {replace}), and ctx.signal, aborted when the reader leaves the page:
// pass it to api calls and stop timers on its 'abort'. Links (<a href="/...">) navigate
// without a reload by themselves. Shared helpers: dom.js (h, fill, badges), api.js (call,
// get, post, ApiError with .field for a 422), session.js (mayRun, isAdmin).

import { h, fill } from './dom.js';
import * as api from './api.js';
import * as session from './session.js';
import { renderSignIn } from './signin.js';

const PAGES = ['./runs.js', './run.js', './new_run.js', './steps.js', './admin.js'];

const main = document.getElementById('main');
const navEl = document.getElementById('nav');
const whoEl = document.getElementById('who');

let routes = [];
let navEntries = [];
let leaving = null;

function compile(path) {
  const names = [];
  const pattern = path.replace(/:([a-z_]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${pattern}/?$`), names };
}

function match(pathname) {
  for (const route of routes) {
    const found = route.compiled.regex.exec(pathname);
    if (found) {
      const params = {};
      route.compiled.names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1])));
      return { route, params };
    }
  }
  return null;
}

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render({ focus: !replace });
}

function projectOf(query, who) {
  return query.get('project') || who?.project || 'default';
}

function drawChrome(who, ctx) {
  if (!who) {
    fill(navEl);
    fill(whoEl);
    return;
  }
  const links = navEntries
    .filter((entry) => !entry.show || entry.show(who))
    .map((entry) => {
      const href = typeof entry.href === 'function' ? entry.href(ctx) : entry.href;
      const here = location.pathname === new URL(href, location.origin).pathname;
      return h('a', { href, 'aria-current': here ? 'page' : null }, entry.label);
    });
  fill(navEl, links);
  fill(
    whoEl,
    h('span', { class: 'role', 'data-role': who.role }, who.project ? `${who.role} · ${who.project}` : who.role),
    h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  session.forget();
  navigate(location.pathname + location.search, { replace: true });
}

export async function render({ focus = false } = {}) {
  if (leaving) leaving.abort();
  leaving = new AbortController();
  const signal = leaving.signal;
  const who = session.current();
  const query = new URLSearchParams(location.search);
  const ctx = { main, query, session: who, project: projectOf(query, who), navigate, signal, params: {} };
  if (!who) {
    drawChrome(null);
    document.title = 'Sign in · lambda-steps';
    renderSignIn(main, () => render({ focus: true }));
    return;
  }
  if (location.pathname === '/') {
    history.replaceState(null, '', '/runs' + location.search + location.hash);
  }
  drawChrome(who, ctx);
  const found = match(location.pathname);
  fill(main);
  if (!found) {
    document.title = 'Not found · lambda-steps';
    fill(main, h('h1', {}, 'No such page'), h('p', {}, h('a', { href: '/runs' }, 'See the runs')));
    return;
  }
  ctx.params = found.params;
  document.title = `${found.route.title} · lambda-steps`;
  if (focus) main.focus({ preventScroll: true });
  try {
    await found.route.render(ctx);
  } catch (e) {
    if (e.name === 'AbortError' || signal.aborted) return;
    fill(main, h('h1', {}, found.route.title), h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/v1/') || url.pathname.startsWith('/assets/')) return;
  if (url.pathname === location.pathname && url.search === location.search) return; // only the #fragment
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

async function start() {
  const modules = await Promise.all(PAGES.map((name) => import(name)));
  for (const module of modules) {
    for (const route of module.routes ?? []) routes.push({ ...route, compiled: compile(route.path) });
    navEntries.push(...(module.nav ?? []));
  }
  api.hooks.unauthorized = () => {
    session.forget();
    render();
  };
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render());
  await render();
  // A token revoked since the last visit: the next API call signs out by itself.
}

start();
