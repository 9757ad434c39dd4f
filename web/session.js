// The signed-in token and what it may do, kept in this tab's sessionStorage only: never in
// a URL, never in localStorage, never in a cookie. A reload keeps it; closing the tab or
// signing out forgets it.

const KEY = 'lambda-steps.session';

/** The session: { token, role, project } or null. */
export function current() {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw);
    return typeof session.token === 'string' && session.token ? session : null;
  } catch {
    return null;
  }
}

export function save(token, whoami) {
  sessionStorage.setItem(KEY, JSON.stringify({ token, role: whoami.role, project: whoami.project ?? null }));
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

/** May this session submit, cancel and re-run runs of `project`? */
export function mayRun(session, project) {
  if (!session) return false;
  if (session.role === 'admin') return true;
  return session.role === 'runner' && session.project === project;
}

export function isAdmin(session) {
  return session?.role === 'admin';
}
