// The one way the console talks to the API: the session's token in the Authorization
// header, JSON in and out, and every failure turned into an ApiError {status, code,
// message, field} carrying the API's own words.

import * as session from './session.js';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field ?? null;
  }
}

/** Hooks the app sets: called when the API rejects the token (401). */
export const hooks = { unauthorized: () => {} };

function headers(token, extra = {}) {
  const out = { Accept: 'application/json', ...extra };
  const t = token ?? session.current()?.token;
  if (t) out.Authorization = `Bearer ${t}`;
  return out;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's page, a dropped connection; the status says enough.
  }
  const e = body?.error ?? body ?? {};
  return new ApiError(
    response.status,
    e.code ?? `http_${response.status}`,
    e.message ?? `${response.status} ${response.statusText}`,
    e.field ?? e.details?.field,
  );
}

/**
 * Calls the API. `options`: {method, body (sent as JSON), token (instead of the session's),
 * signal}. Answers the parsed JSON body (null for an empty one).
 */
export async function call(path, options = {}) {
  const { method = 'GET', body, token, signal } = options;
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: headers(token, body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `The service could not be reached: ${e.message}`);
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && !token) hooks.unauthorized(error);
    throw error;
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => call(path, { ...options, method: 'GET' });
export const post = (path, body, options) => call(path, { ...options, method: 'POST', body });
export const put = (path, body, options) => call(path, { ...options, method: 'PUT', body });
export const del = (path, options) => call(path, { ...options, method: 'DELETE' });

/** `/v1/projects/a b/runs` with each segment encoded. */
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');
}

/**
 * Reads Server-Sent Events from `path` with fetch (EventSource cannot send the
 * Authorization header). Calls onEvent({event, id, data}) for each; resolves when the
 * stream ends, rejects on a network error or an error answer.
 */
export async function events(path, { signal, lastEventId, onEvent }) {
  const extra = { Accept: 'text/event-stream' };
  if (lastEventId !== undefined && lastEventId !== null) extra['Last-Event-ID'] = String(lastEventId);
  const response = await fetch(path, { signal, headers: headers(undefined, extra), cache: 'no-store' });
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401) hooks.unauthorized(error);
    throw error;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { event: 'message', id: null, data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (event.data.length) onEvent({ event: event.event, id: event.id, data: event.data.join('\n') });
        event = { event: 'message', id: null, data: [] };
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event.event = value;
        else if (field === 'data') event.data.push(value);
        else if (field === 'id') event.id = value;
      }
    }
  }
}
