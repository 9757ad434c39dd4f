// Sign in with an API token: one field, Enter signs in. The token is checked against
// GET /v1/whoami, and kept (with its role and project) in this tab's sessionStorage.

import { h, fill } from './dom.js';
import * as api from './api.js';
import * as session from './session.js';

export function renderSignIn(main, signedIn) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-help',
  });
  const message = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'sign-in', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' },
      'An admin, runner or reader token. After `scripts/start`, the admin token is in the data directory’s admin-token file. It stays in this tab only.'),
    h('button', { type: 'submit' }, 'Sign in'),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    fill(message);
    if (!token) {
      fill(message, 'Enter a token.');
      input.focus();
      return;
    }
    try {
      const who = await api.get('/v1/whoami', { token });
      session.save(token, who);
      input.value = '';
      signedIn();
    } catch (e) {
      fill(message, e.message);
      input.select();
    }
  });
  fill(main, form);
  input.focus();
}
