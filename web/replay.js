// Replay on a run's page: the Replay button's request, and the comparison of a run with
// its replay (GET /v1/runs/{id}/replay-diff), redrawn until both runs are finished.

import { h, fill, statusBadge } from './dom.js';
import * as api from './api.js';

const FINISHED = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

/** Whether a run may be replayed from the console (the API has the last word). */
export function replayable(run) {
  if (!FINISHED.has(run.status) || run.replay_of) return false;
  if (run.step?.type === 'lambda_custom_code') return true;
  return run.step?.type === 'lambda_invoke' && (run.step.invocation_type ?? 'RequestResponse') === 'RequestResponse';
}

/** Asks for a replay of run `id`; answers the replay run. */
export function startReplay(id, signal) {
  return api.post(api.path`/v1/runs/${id}/replay`, {}, { signal });
}

/**
 * Draws the comparison of `diffOf` (a replay, or a replayed run) into `box`, again every
 * second until both runs are finished.
 */
export async function showComparison(box, diffOf, signal) {
  fill(box, h('h2', {}, 'Replay'), h('p', { id: 'replay-verdict', 'data-same': 'pending', role: 'status' }, 'Replaying…'));
  for (;;) {
    const diff = await api.get(api.path`/v1/runs/${diffOf}/replay-diff`, { signal });
    const replay = diff.finished ? await api.get(api.path`/v1/runs/${diff.replay}`, { signal }) : null;
    fill(box, ...comparison(diff, replay));
    if (diff.finished || signal.aborted) return diff;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function comparison(diff, replay) {
  const refused = replay?.error?.code === 'replay_refused' ? replay.error.message : null;
  const verdict = !diff.finished ? ['pending', 'Replaying…']
    : refused ? ['refused', `The replay was refused: ${refused}`]
      : diff.same_outcome ? ['true', 'Same outcome: the replay did what the run did.']
        : ['false', 'The outcomes differ.'];
  const mark = (same) => h('td', { class: same ? 'same' : 'differs' }, same ? '=' : '≠');
  const errorText = (e) => (e ? `${e.type ?? 'Error'}: ${e.message ?? ''}` : 'none');
  const figure = (n, unit) => (n === null || n === undefined ? '—' : `${n} ${unit}`);
  const row = (label, original, replayed, same) => h('tr', { 'data-row': label.toLowerCase() },
    h('th', { scope: 'row' }, label), h('td', {}, original), h('td', {}, replayed), same === null ? h('td', {}) : mark(same));
  const changes = diff.payload.changes.map((c) => h('li', {},
    h('code', {}, c.path || '(whole payload)'), ': ',
    h('span', { class: 'mono' }, c.original === undefined || c.original === null ? '—' : JSON.stringify(c.original)), ' → ',
    h('span', { class: 'mono' }, c.replay === undefined || c.replay === null ? '—' : JSON.stringify(c.replay))));
  const printed = diff.printed.map((p) => h('tr', { class: p.same ? 'same' : 'differs' },
    h('td', { class: 'mono' }, p.original ?? ''), h('td', { class: 'mono' }, p.replay ?? ''), mark(p.same)));
  return [
    h('h2', {}, 'Replay'),
    h('p', { id: 'replay-verdict', 'data-same': verdict[0], role: 'status', class: verdict[0] === 'true' ? 'ok' : verdict[0] === 'pending' ? 'muted' : 'error' }, verdict[1]),
    h('p', { class: 'meta muted' },
      'Original ', h('a', { href: `/runs/${diff.original}` }, h('code', {}, diff.original.slice(0, 8))),
      ' · replay ', h('a', { href: `/runs/${diff.replay}`, id: 'replay-link' }, h('code', {}, diff.replay.slice(0, 8))),
      ' on the embedded engine'),
    h('table', { id: 'replay-table', class: 'compare' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Original'), h('th', {}, 'Replay'), h('th', {}, ''))),
      h('tbody', {},
        row('Status', statusBadge(diff.status.original), statusBadge(diff.status.replay), diff.status.same),
        row('Error', errorText(diff.error.original), errorText(diff.error.replay), diff.error.same),
        row('Result', diff.payload.same ? 'same payload' : `${diff.payload.changes.length} change(s)`, '', diff.payload.same),
        row('Duration', figure(diff.duration_ms.original, 'ms'), figure(diff.duration_ms.replay, 'ms'), null),
        row('Max memory', figure(diff.max_memory_mb.original, 'MB'), figure(diff.max_memory_mb.replay, 'MB'), null))),
    changes.length ? h('ul', { id: 'replay-changes' }, changes) : null,
    h('h3', {}, 'Printed lines'),
    printed.length
      ? h('table', { id: 'replay-printed', class: 'compare' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Original'), h('th', {}, 'Replay'), h('th', {}, ''))),
        h('tbody', {}, printed))
      : h('p', { class: 'muted', id: 'replay-printed' }, 'Neither printed anything.'),
  ];
}
