// A run's log as a virtual list. Row n is the line with seq n (seqs number a run's lines
// from 1), every row is ROW pixels high, and only the rows in view (and a few around them)
// are in the page: a 100,000-line log scrolls like a short one. Lines are fetched in chunks
// of CHUNK seqs as they come into view (the log API's `after`/`limit`), so opening a long
// log or jumping to its end loads only what is shown; the live stream appends at the end.
// Line numbers link to #L<n>; runner and function lines are told apart; follow keeps the
// end in view until the reader scrolls up, and resumes when they scroll back to the bottom.

import { h } from './dom.js';
import * as ansi from './ansi.js';

const ROW = 20;
const OVERSCAN = 20;
export const CHUNK = 2000;

export class LogView {
  /**
   * fetchChunk(after, limit) answers a log page ({items, last_seq}); onEntries(entries) sees
   * every line as it arrives, in whatever order chunks come.
   */
  constructor({ fetchChunk, onEntries = () => {}, onFollowChange = () => {}, onError = () => {} }) {
    this.fetchChunk = fetchChunk;
    this.onEntries = onEntries;
    this.onFollowChange = onFollowChange;
    this.onError = onError;
    this.entries = []; // sparse: entries[seq - 1]
    this.total = 0; // the highest seq known
    this.chunks = new Map(); // chunk index -> 'loading' | 'loaded'
    this.shown = null; // seqs matching the search, or null for all
    this.term = '';
    this.follow = true;
    this.highlight = null;
    this.rows = h('div', { class: 'log-rows' });
    this.spacer = h('div', { class: 'log-spacer' });
    this.element = h('div', { class: 'log', id: 'log', tabindex: '0', role: 'log', 'aria-label': 'Log' }, this.spacer, this.rows);
    this.element.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.frame = 0;
    this.expectedTop = null;
  }

  /** Takes lines (from a chunk or the live stream); a seq already held is kept once. */
  put(entries) {
    const fresh = [];
    for (const entry of entries) {
      if (this.entries[entry.seq - 1]) continue;
      this.entries[entry.seq - 1] = entry;
      fresh.push(entry);
      if (entry.seq > this.total) this.total = entry.seq;
      if (this.shown && this.matches(entry)) this.shown.push(entry.seq);
    }
    if (fresh.length) {
      this.onEntries(fresh);
      this.schedule();
    }
  }

  /** The log holds at least `seq` lines (from a page's last_seq). */
  grow(seq) {
    if (seq > this.total) {
      this.total = seq;
      this.schedule();
    }
  }

  /** A chunk already fetched by the caller (the first page). */
  loaded(index, page) {
    this.chunks.set(index, 'loaded');
    this.put(page.items);
    this.grow(page.last_seq ?? 0);
  }

  async load(index) {
    if (this.chunks.has(index)) return;
    this.chunks.set(index, 'loading');
    try {
      const page = await this.fetchChunk(index * CHUNK, CHUNK);
      this.loaded(index, page);
    } catch (e) {
      this.chunks.delete(index);
      if (e.name !== 'AbortError') this.onError(e);
    }
  }

  /** Fetches every chunk not yet held (for search). */
  async loadAll() {
    const last = Math.ceil(this.total / CHUNK);
    for (let i = 0; i < last; i++) await this.load(i);
  }

  get count() {
    return this.shown ? this.shown.length : this.total;
  }

  matches(entry) {
    return entry.message.toLowerCase().includes(this.term);
  }

  /** Keeps only the lines holding `term` (all of them for ''); answers how many. */
  async search(term) {
    this.term = term.toLowerCase();
    if (!this.term) {
      this.shown = null;
    } else {
      await this.loadAll();
      this.shown = [];
      this.entries.forEach((entry) => entry && this.matches(entry) && this.shown.push(entry.seq));
      this.shown.sort((a, b) => a - b);
    }
    this.element.scrollTop = 0;
    this.setFollow(false);
    this.schedule();
    return this.shown ? this.shown.length : null;
  }

  setFollow(on) {
    if (this.follow === on) return;
    this.follow = on;
    this.onFollowChange(on);
    if (on) this.schedule();
  }

  /** Scrolls line `n` into the middle of the view and marks it. */
  reveal(n) {
    if (n < 1 || n > this.total) return false;
    if (this.shown) {
      this.term = '';
      this.shown = null;
    }
    this.highlight = n;
    this.setFollow(false);
    const top = Math.max(0, (n - 1) * ROW - this.element.clientHeight / 2);
    this.spacer.style.height = `${this.count * ROW}px`;
    this.expectedTop = Math.round(top);
    this.element.scrollTop = top;
    this.schedule();
    return true;
  }

  onScroll() {
    const el = this.element;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
    if (this.expectedTop !== null && Math.abs(el.scrollTop - this.expectedTop) <= 1) {
      this.expectedTop = null;
    } else {
      this.setFollow(atBottom);
    }
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const el = this.element;
    const count = this.count;
    this.spacer.style.height = `${count * ROW}px`;
    if (this.follow) {
      const bottom = Math.max(0, count * ROW - el.clientHeight);
      if (Math.abs(el.scrollTop - bottom) > 1) {
        this.expectedTop = Math.round(bottom);
        el.scrollTop = bottom;
      }
    }
    const first = Math.max(0, Math.floor(el.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(count, Math.ceil((el.scrollTop + el.clientHeight) / ROW) + OVERSCAN);
    this.rows.style.transform = `translateY(${first * ROW}px)`;
    const out = [];
    for (let i = first; i < last; i++) {
      const seq = this.shown ? this.shown[i] : i + 1;
      const entry = this.entries[seq - 1];
      if (!entry) this.load(Math.floor((seq - 1) / CHUNK));
      out.push(entry ? this.row(entry) : this.pending(seq));
    }
    this.rows.replaceChildren(...out);
  }

  pending(seq) {
    return h('div', { class: 'log-row pending', id: `L${seq}` },
      h('a', { class: 'ln', href: `#L${seq}` }, String(seq)), h('span', { class: 'src' }), h('span', { class: 'msg muted' }, '…'));
  }

  row(entry) {
    const n = entry.seq;
    const msg = h('span', { class: 'msg' });
    if (this.term) {
      const text = ansi.strip(entry.message);
      const lower = text.toLowerCase();
      let at = 0;
      for (let found = lower.indexOf(this.term); found >= 0; found = lower.indexOf(this.term, at)) {
        msg.append(text.slice(at, found), h('mark', {}, text.slice(found, found + this.term.length)));
        at = found + this.term.length;
      }
      msg.append(text.slice(at));
    } else if (ansi.hasAnsi(entry.message)) {
      ansi.render(msg, entry.message);
    } else {
      msg.textContent = entry.message;
    }
    const runner = entry.source === 'runner';
    return h('div', {
      class: `log-row ${entry.source} level-${entry.level}${this.highlight === n ? ' hit-line' : ''}`,
      id: `L${n}`,
      title: `${entry.time} · ${runner ? 'runner' : 'function'}`,
    },
    h('a', { class: 'ln', href: `#L${n}`, 'aria-label': `line ${n}` }, String(n)),
    h('span', { class: 'src', 'aria-label': runner ? 'runner' : 'function' }, runner ? '▸' : ' '),
    msg);
  }
}
