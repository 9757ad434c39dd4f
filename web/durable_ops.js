// The durable operations a run waits on, drawn under its phases: each wait (read from the
// runner's `durable: wait "NAME" started (N s)` / `... succeeded` lines) and each callback
// (from the approvals list), with how long it took or that it still waits.

import { h, fill, duration, time } from './dom.js';

const WAIT = /^durable: wait(?: "(.*)")? (started|succeeded|cancelled|failed|stopped)(?: \((\d+) s\))?/;

export class DurableOps {
  constructor() {
    this.waits = [];
    this.element = h('ol', { class: 'timeline durable-ops', id: 'durable-ops', 'aria-label': 'Durable operations' });
  }

  /** Takes one log entry; true when it started or ended a wait. */
  take(entry) {
    if (entry.source !== 'runner') return false;
    // A re-attached run reads the execution's history from its start again.
    if (entry.message.includes('is a durable function: starting (or re-attaching to)')) {
      this.waits = [];
      return true;
    }
    const m = WAIT.exec(entry.message);
    if (!m) return false;
    const [, name, what, seconds] = m;
    if (what === 'started') {
      this.waits.push({ name, seconds, from: entry.time, to: null, how: null });
    } else {
      const open = this.waits.findLast((w) => w.name === name && !w.to);
      if (!open) return false;
      open.to = entry.time;
      open.how = what;
    }
    return true;
  }

  /** Draws the waits and `callbacks` (the approvals list's) in the order they began. */
  draw(run, callbacks) {
    const finished = Boolean(run.finished_at);
    const ops = [
      ...this.waits.map((w) => ({
        at: w.from, kind: 'wait', state: w.to ? w.how : 'waiting',
        label: `wait${w.name ? ` "${w.name}"` : ''}${w.seconds ? ` (${w.seconds} s)` : ''}`,
        said: w.to ? `${w.how === 'succeeded' ? 'ended' : w.how} after ${took(w.from, w.to)}`
          : finished ? 'left waiting' : ['waiting since ', time(w.from)],
      })),
      ...callbacks.map((c) => ({
        at: c.created_at, kind: 'callback', state: c.state,
        label: `callback "${c.name ?? c.callback_id}"`,
        said: c.state === 'waiting'
          ? (finished ? 'left unanswered' : ['waiting for an answer since ', time(c.created_at)])
          : `${c.state.replace('_', ' ')}${c.ended_at ? ` after ${took(c.created_at, c.ended_at)}` : ''}`,
      })),
    ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    fill(this.element, ops.map((op) => h('li', { 'data-op': op.kind, 'data-state': op.state },
      h('span', { class: 'phase' }, op.label),
      h('span', { class: 'muted' }, op.said))));
    this.element.hidden = !ops.length;
  }
}

const took = (from, to) => duration(Math.max(0, Date.parse(to) - Date.parse(from)));
