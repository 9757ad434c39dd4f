// A run's page, /runs/{id}: status, the step, the phases on a timeline, the live log
// (backlog from the paged logs API, then SSE from the last seq, resumed after a drop),
// the function's error pinned on top, REPORT's figures, the result, cancel, re-run and
// replay (the comparison with the replay drawn by replay.js); a durable function's
// approvals (approvals.js) and the waits and callbacks under the phases (durable_ops.js).

import { h, fill, statusBadge, duration, time } from './dom.js';
import * as api from './api.js';
import * as session from './session.js';
import { LogView, CHUNK } from './log_view.js';
import { kind, target, runDuration } from './runs.js';
import { FINISHED, PHASES } from './spec.js';
import { replayable, startReplay, showComparison } from './replay.js';
import { Approvals, aboutCallbacks } from './approvals.js';
import { DurableOps } from './durable_ops.js';

export const routes = [{ path: '/runs/:id', title: 'Run', render }];

const PAGE = 5000;

/** REPORT's figures from a function's REPORT line, or null. */
export function reportFigures(message) {
  if (!message.startsWith('REPORT ')) return null;
  const grab = (re) => re.exec(message)?.[1];
  return {
    duration: grab(/(?<!Billed |Init )Duration: ([\d.]+) ms/),
    billed: grab(/Billed Duration: ([\d.]+) ms/),
    memorySize: grab(/Memory Size: (\d+) MB/),
    memoryUsed: grab(/Max Memory Used: (\d+) MB/),
    init: grab(/Init Duration: ([\d.]+) ms/),
  };
}

async function render(ctx) {
  const { main, signal, params } = ctx;
  const id = params.id;
  let run = await api.get(api.path`/v1/runs/${id}`, { signal });
  const phases = new Map([['queued', run.created_at]]);
  let report = null;

  const badge = h('span', { id: 'run-status' });
  const actions = h('div', { class: 'actions' });
  const meta = h('p', { class: 'meta muted' });
  const pinned = h('section', { id: 'pinned', 'aria-live': 'polite' });
  const figures = h('p', { id: 'report', class: 'figures', 'aria-label': 'REPORT figures' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Phases' });
  const result = h('section', { id: 'result' });
  const replayBox = h('section', { id: 'replay', 'aria-live': 'polite' });
  const message = h('p', { class: 'error', role: 'alert' });
  const mayRun = session.mayRun(ctx.session, run.project);
  const ops = new DurableOps();
  const approvals = new Approvals({
    runId: id, signal, mayAnswer: mayRun, onChange: (callbacks) => ops.draw(run, callbacks),
  });
  const readCallbacks = () => approvals.refresh().catch((e) => {
    if (!signal.aborted) fill(message, `The run's callbacks could not be read: ${e.message}`);
  });

  const followBox = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const logPage = (after, limit) => api.get(`${api.path`/v1/runs/${id}/logs`}?after=${after}&limit=${limit}`, { signal });
  const view = new LogView({
    fetchChunk: logPage,
    onEntries: (entries) => take(entries),
    onFollowChange: (on) => (followBox.checked = on),
    onError: (e) => fill(message, `Part of the log could not be read: ${e.message}`),
  });
  followBox.addEventListener('change', () => view.setFollow(followBox.checked));
  const searchBox = h('input', { type: 'search', id: 'log-search', placeholder: 'Search the log', autocomplete: 'off' });
  const searchNote = h('span', { class: 'muted', id: 'log-count', role: 'status' });
  let searchTimer = 0;
  searchBox.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      if (searchBox.value) fill(searchNote, 'searching…');
      const found = await view.search(searchBox.value);
      fill(searchNote, found === null ? '' : `${found} matching line${found === 1 ? '' : 's'}`);
    }, 150);
  });
  const download = h('button', { type: 'button', class: 'secondary', id: 'download' }, 'Download log');
  download.addEventListener('click', () => downloadLog(id, download).catch((e) => fill(message, e.message)));

  fill(main,
    h('h1', {}, h('span', {}, 'Run ', h('code', {}, id.slice(0, 8))), badge, actions),
    meta,
    message,
    pinned,
    approvals.element,
    figures,
    replayBox,
    h('h2', {}, 'Timeline'), timeline, ops.element,
    h('h2', { id: 'log-heading' }, 'Log'),
    h('div', { class: 'log-tools' },
      h('label', { for: 'log-search', class: 'visually-hidden' }, 'Search'), searchBox, searchNote,
      h('span', {}, followBox, ' ', h('label', { for: 'follow' }, 'Follow')),
      download),
    view.element,
    result,
    h('h2', {}, 'Step'), stepSection(run.step));

  const drawRun = () => {
    fill(badge, statusBadge(run.status));
    fill(meta,
      'Project ', h('a', { href: `/runs?project=${encodeURIComponent(run.project)}` }, run.project),
      ' · ', kind(run.step), ' ', h('span', { class: 'mono' }, target(run.step)),
      ' · created ', time(run.created_at),
      run.started_at ? [' · started ', time(run.started_at)] : null,
      run.finished_at ? [' · took ', duration(runDuration(run))] : null,
      run.attempt > 1 ? ` · attempt ${run.attempt}` : null,
      // The run's OpenTelemetry trace, to look up in the tracing backend.
      run.trace_id ? [' · trace ', h('code', { id: 'trace-id', title: 'OpenTelemetry trace id' }, run.trace_id)] : null);
    fill(actions,
      mayRun && !FINISHED.has(run.status)
        ? h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: cancel }, 'Cancel') : null,
      mayRun ? h('button', { type: 'button', id: 'rerun', onclick: rerun }, 'Re-run') : null,
      mayRun && replayable(run)
        ? h('button', { type: 'button', id: 'replay-button', title: 'Run it again on the embedded engine and compare', onclick: replay }, 'Replay') : null);
    fill(pinned, errorBox(run));
    fill(result, resultBox(run));
    drawTimeline(timeline, phases, run);
    approvals.setRunning(run.status === 'running');
    ops.draw(run, approvals.callbacks);
  };
  const drawReport = () => {
    if (!report) return;
    const badgeOf = (label, value) => value && h('span', { class: 'badge figure' }, `${label} ${value}`);
    fill(figures,
      badgeOf('Duration', report.duration && `${report.duration} ms`),
      ' ', badgeOf('Billed', report.billed && `${report.billed} ms`),
      ' ', badgeOf('Memory', report.memoryUsed && `${report.memoryUsed} of ${report.memorySize} MB`),
      ' ', badgeOf('Init', report.init && `${report.init} ms`));
  };
  const refresh = async () => {
    run = await api.get(api.path`/v1/runs/${id}`, { signal });
    drawRun();
  };
  async function cancel(event) {
    event.target.disabled = true;
    try {
      run = await api.post(api.path`/v1/runs/${id}/cancel`, undefined, { signal });
      drawRun();
    } catch (e) {
      fill(message, e.message);
      event.target.disabled = false;
    }
  }
  async function rerun(event) {
    event.target.disabled = true;
    try {
      const next = await api.post(api.path`/v1/projects/${run.project}/runs`, { step: run.step }, { signal });
      ctx.navigate(`/runs/${next.id}`);
    } catch (e) {
      fill(message, e.field ? `${e.field}: ${e.message}` : e.message);
      event.target.disabled = false;
    }
  }

  async function replay(event) {
    event.target.disabled = true;
    try {
      const started = await startReplay(id, signal);
      await showComparison(replayBox, started.id, signal);
    } catch (e) {
      if (!signal.aborted) fill(message, e.message);
    } finally {
      event.target.disabled = false;
    }
  }
  const comparedWith = run.replay_of ? id : run.replays?.[0];
  if (comparedWith) {
    showComparison(replayBox, comparedWith, signal).catch((e) => {
      if (!signal.aborted) fill(message, `The replay's comparison could not be read: ${e.message}`);
    });
  }

  // A phase opens at the first runner line that carries it (the line's words do not
  // matter); "queued" opens at the run's creation.
  function take(entries) {
    let changed = false;
    let callbacksSaid = false;
    let opsChanged = false;
    for (const entry of entries) {
      opsChanged = ops.take(entry) || opsChanged;
      if (entry.source === 'runner') {
        callbacksSaid = callbacksSaid || aboutCallbacks(entry.message);
        if (entry.phase && !phases.has(entry.phase)) {
          phases.set(entry.phase, entry.time);
          changed = true;
        }
      } else {
        const figures = reportFigures(entry.message);
        if (figures) {
          report = figures;
          drawReport();
        }
      }
    }
    if (changed) drawTimeline(timeline, phases, run);
    if (opsChanged) ops.draw(run, approvals.callbacks);
    if (callbacksSaid) readCallbacks();
  }

  const revealHash = () => {
    const line = /^#L(\d+)$/.exec(location.hash);
    if (line) view.reveal(Number(line[1]));
  };
  window.addEventListener('hashchange', revealHash);
  signal.addEventListener('abort', () => window.removeEventListener('hashchange', revealHash));

  drawRun();
  readCallbacks();
  if (FINISHED.has(run.status)) view.setFollow(false);
  // The first chunk, then the stream from the log's end as it was then (the lines between
  // are fetched as they come into view); after a drop, the stream resumes after the last
  // line it gave.
  (async () => {
    const first = await logPage(0, CHUNK);
    view.loaded(0, first);
    revealHash();
    if (first.completed) return;
    let last = first.last_seq;
    while (!signal.aborted) {
      let ended = false;
      try {
        await api.events(`${api.path`/v1/runs/${id}/events`}?after=${last}`, {
          signal,
          lastEventId: last,
          onEvent: ({ event, data }) => {
            if (event === 'log') {
              const entry = JSON.parse(data);
              last = Math.max(last, entry.seq);
              view.put([entry]);
            } else if (event === 'status') refresh().catch(() => {});
            else if (event === 'end') ended = true;
          },
        });
      } catch (e) {
        if (signal.aborted) return;
      }
      if (ended) {
        await refresh();
        readCallbacks();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })().catch((e) => {
    if (!signal.aborted) fill(message, `The log stopped updating: ${e.message}`);
  });
}

// The phases seen so far, in the API's order; the end is drawn from the run itself.
function drawTimeline(list, phases, run) {
  const known = PHASES.filter((name) => name !== 'finished' && phases.has(name));
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  fill(list, known.map((name, i) => {
    const from = Date.parse(phases.get(name));
    const next = known[i + 1];
    const to = next ? Date.parse(phases.get(next)) : end;
    const open = !next && !run.finished_at;
    const label = name.replace(/_/g, ' ');
    return h('li', { 'data-phase': label },
      h('span', { class: 'phase' }, label),
      h('span', { class: 'muted' }, open ? 'now' : duration(Math.max(0, to - from))));
  }), run.finished_at ? h('li', { 'data-phase': 'finished' }, h('span', { class: 'phase' }, run.status.replace('_', ' ')), time(run.finished_at)) : null);
}

function stepSection(step) {
  const rows = [];
  const add = (label, value) => value !== undefined && value !== null && value !== '' && rows.push(h('dt', {}, label), h('dd', {}, value));
  add('Type', kind(step));
  if (step.type === 'lambda_invoke') {
    add('Function', step.function_name);
    add('Qualifier', step.qualifier);
    add('Invocation type', step.invocation_type);
    if (step.client_context) add('Client context', JSON.stringify(step.client_context));
  } else {
    add('Runtime', step.runtime);
    add('Handler', step.handler);
    add('Timeout', step.timeout_seconds && `${step.timeout_seconds} s`);
    add('Memory', step.memory_mb && `${step.memory_mb} MB`);
    if (step.environment && Object.keys(step.environment).length) add('Environment', Object.keys(step.environment).join(', '));
  }
  add('Payload', JSON.stringify(step.payload ?? {}));
  const code = step.code
    ? h('pre', { class: 'code', 'aria-label': 'Code' }, step.code.replace(/\n$/, '').split('\n').map((line) => h('span', {}, line)))
    : null;
  return h('div', { id: 'step' }, h('dl', { class: 'step' }, rows), code);
}

function errorBox(run) {
  const fn = run.result?.error;
  if (!run.error && !fn) return null;
  return h('div', { class: 'pinned', role: 'alert', id: 'run-error' },
    run.error ? h('strong', {}, run.error.code.replace(/_/g, ' '), ': ') : null,
    run.error ? run.error.message : null,
    fn && (fn.type || fn.message) && !(run.error?.message ?? '').includes(fn.message ?? '\0')
      ? h('p', {}, h('code', {}, fn.type ?? 'Error'), ' ', fn.message ?? '') : null,
    fn?.stack_trace?.length ? h('pre', {}, fn.stack_trace.join('\n')) : null);
}

function resultBox(run) {
  const payload = run.result?.payload;
  if (payload === undefined || payload === null) return null;
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2);
  const pre = h('pre', { class: 'result', id: 'result-payload', tabindex: '0' }, text);
  const copy = h('button', { type: 'button', class: 'secondary', id: 'copy-result' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      fill(copy, 'Copied');
    } catch {
      getSelection().selectAllChildren(pre);
      fill(copy, 'Selected: press Ctrl+C');
    }
  });
  return [h('h2', {}, 'Result ', copy), pre];
}

async function downloadLog(id, button) {
  button.disabled = true;
  try {
    const lines = [];
    let after = 0;
    for (;;) {
      const page = await api.get(`${api.path`/v1/runs/${id}/logs`}?after=${after}&limit=${PAGE}`);
      for (const e of page.items) lines.push(`${e.time} ${e.source.padEnd(8)} ${e.message}`);
      after = page.next_after;
      if (page.completed || page.items.length < PAGE) break;
    }
    const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/plain' });
    const link = h('a', { href: URL.createObjectURL(blob), download: `run-${id}.log` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } finally {
    button.disabled = false;
  }
}
