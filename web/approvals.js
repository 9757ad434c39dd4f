// A run's approvals: the callbacks its durable execution created (GET /v1/runs/{id}/callbacks),
// each with its name, id and state; while the run runs and one waits, Approve and Reject
// answer it (POST /v1/runs/{id}/callbacks/{callback_id}). Approve sends the JSON typed in its
// field as the callback's result, or {"approved": true} when the field is left empty; Reject
// needs a message, sent as the error's message (type "Rejected"). The API's refusals are
// shown beside the buttons.

import { h, fill, time } from './dom.js';
import * as api from './api.js';

/** What Approve sends when no result is typed. */
export const DEFAULT_RESULT = { approved: true };

const SAID = {
  waiting: 'waiting for an answer',
  approved: 'approved',
  rejected: 'rejected',
  succeeded: 'completed (not through this service)',
  failed: 'failed (not through this service)',
  timed_out: 'timed out',
};

export class Approvals {
  /** `mayAnswer`: whether the session may complete callbacks (a runner or admin of the project). */
  constructor({ runId, signal, mayAnswer, onChange }) {
    this.runId = runId;
    this.signal = signal;
    this.mayAnswer = mayAnswer;
    this.onChange = onChange ?? (() => {});
    this.callbacks = [];
    this.running = false;
    this.errors = new Map();
    this.busy = new Set();
    // What was typed in the fields, kept across redraws (a log line can redraw the list).
    this.drafts = new Map();
    this.loading = null;
    this.again = false;
    this.element = h('section', { id: 'approvals', 'aria-label': 'Approvals', 'aria-live': 'polite' });
  }

  /** Reads the run's callbacks again (one read at a time; a call meanwhile reads once more after). */
  async refresh() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        const page = await api.get(api.path`/v1/runs/${this.runId}/callbacks`, { signal: this.signal });
        this.callbacks = page.items;
        this.draw();
        this.onChange(this.callbacks);
      } while (this.again && !this.signal.aborted);
    })().finally(() => (this.loading = null));
    return this.loading;
  }

  /** The run's status changed: buttons only while it runs. */
  setRunning(running) {
    if (running === this.running) return;
    this.running = running;
    this.draw();
  }

  draw() {
    if (!this.callbacks.length) {
      fill(this.element);
      return;
    }
    fill(this.element, h('h2', {}, 'Approvals'), this.callbacks.map((callback) => this.card(callback)));
  }

  card(callback) {
    const id = callback.callback_id;
    const error = this.errors.get(id);
    const answerable = callback.state === 'waiting' && !callback.answered_by && this.running && this.mayAnswer;
    return h('div', { class: 'callback', 'data-callback-id': id, 'data-state': callback.state },
      h('p', {},
        h('strong', { class: 'callback-name' }, callback.name ?? 'callback'), ' ',
        h('span', { class: `badge callback-${callback.state}`, 'data-state': callback.state }, SAID[callback.state] ?? callback.state),
        ' ', h('span', { class: 'muted' }, 'id ', h('code', { class: 'callback-id' }, id), ' · created ', time(callback.created_at))),
      callback.answered_by
        ? h('p', { class: 'answered-by' }, callback.answer, ' by ', callback.answered_by,
          callback.answered_at ? [' at ', time(callback.answered_at)] : null,
          callback.state === 'waiting' ? h('span', { class: 'muted' }, ' (the execution has not taken it yet)') : null)
        : null,
      answerable ? this.form(id) : null,
      error ? h('p', { class: 'error callback-error', role: 'alert' }, error) : null);
  }

  form(id) {
    const busy = this.busy.has(id);
    const field = (kind, attrs) => {
      const input = h('input', { type: 'text', id: `${kind}-${id}`, autocomplete: 'off', ...attrs });
      input.value = this.drafts.get(`${kind}-${id}`) ?? '';
      input.addEventListener('input', () => this.drafts.set(`${kind}-${id}`, input.value));
      return input;
    };
    const result = field('result', { class: 'mono callback-result', placeholder: JSON.stringify(DEFAULT_RESULT) });
    const message = field('message', { class: 'callback-message', placeholder: 'Why it is rejected' });
    const approve = h('button', { type: 'button', class: 'approve', disabled: busy }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger reject', disabled: busy }, 'Reject');
    approve.addEventListener('click', () => {
      let value = DEFAULT_RESULT;
      if (result.value.trim()) {
        try {
          value = JSON.parse(result.value);
        } catch (e) {
          return this.fail(id, `The result is not JSON: ${e.message}`);
        }
      }
      this.answer(id, { result: value });
    });
    reject.addEventListener('click', () => {
      if (!message.value.trim()) {
        message.focus();
        return this.fail(id, 'Say why it is rejected: the message is what the function sees.');
      }
      this.answer(id, { error: { type: 'Rejected', message: message.value } });
    });
    return h('div', { class: 'callback-answer' },
      h('span', {}, h('label', { for: `result-${id}` }, 'Result (JSON, optional) '), result, ' ', approve),
      h('span', {}, h('label', { for: `message-${id}` }, 'Message '), message, ' ', reject));
  }

  fail(id, text) {
    this.errors.set(id, text);
    this.draw();
  }

  async answer(id, body) {
    this.busy.add(id);
    this.errors.delete(id);
    this.draw();
    try {
      const done = await api.post(api.path`/v1/runs/${this.runId}/callbacks/${id}`, body, { signal: this.signal });
      // Shown at once; the read after brings the time and, soon, the execution's own word.
      this.callbacks = this.callbacks.map((c) => (c.callback_id === id
        ? { ...c, answered_by: done.completed_by, answer: done.outcome } : c));
    } catch (e) {
      if (this.signal.aborted) return;
      this.errors.set(id, e.field ? `${e.field}: ${e.message}` : e.message);
    } finally {
      this.busy.delete(id);
      this.draw();
    }
    this.refresh().catch(() => {});
  }
}

/** Whether a runner line of the log says something about a callback (then the list is read again). */
export function aboutCallbacks(message) {
  return message.startsWith('durable: callback') || /^callback \S+ was (approved|rejected) by /.test(message);
}
