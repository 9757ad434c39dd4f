// A run's log as a virtual list: every row is ROW pixels high and only the rows in view
// (and a few around them) are in the page, so 100,000 lines scroll like 100. Line numbers
// link to #L<n>; runner and function lines are told apart; follow keeps the end in view
// until the reader scrolls up, and resumes when they scroll back to the bottom.

import { h } from './dom.js';
import * as ansi from './ansi.js';

const ROW = 20;
const OVERSCAN = 20;

export class LogView {
  constructor({ onFollowChange } = {}) {
    this.entries = [];
    this.lastSeq = 0;
    this.shown = null; // indices matching the search, or null for all
    this.term = '';
    this.follow = true;
    this.highlight = null;
    this.onFollowChange = onFollowChange ?? (() => {});
    this.rows = h('div', { class: 'log-rows' });
    this.spacer = h('div', { class: 'log-spacer' });
    this.element = h('div', { class: 'log', id: 'log', tabindex: '0', role: 'log', 'aria-label': 'Log' }, this.spacer, this.rows);
    this.element.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.frame = 0;
    this.expectedTop = null;
  }

  /** Adds entries after the last one held; any already held (same or lower seq) is dropped. */
  append(entries) {
    let added = 0;
    for (const entry of entries) {
      if (entry.seq <= this.lastSeq) continue;
      this.lastSeq = entry.seq;
      this.entries.push(entry);
      added++;
      if (this.shown && this.matches(entry)) this.shown.push(this.entries.length - 1);
    }
    if (added) this.schedule();
    return added;
  }

  get count() {
    return this.shown ? this.shown.length : this.entries.length;
  }

  matches(entry) {
    return entry.message.toLowerCase().includes(this.term);
  }

  search(term) {
    this.term = term.toLowerCase();
    if (!this.term) {
      this.shown = null;
    } else {
      this.shown = [];
      this.entries.forEach((entry, i) => this.matches(entry) && this.shown.push(i));
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

  /** Scrolls line `n` (1-based, in the whole log) into the middle of the view. */
  reveal(n) {
    if (n < 1 || n > this.entries.length) return false;
    if (this.shown) this.search('');
    this.highlight = n;
    this.setFollow(false);
    const top = Math.max(0, (n - 1) * ROW - this.element.clientHeight / 2);
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
    } else if (atBottom) {
      this.setFollow(true);
    } else {
      this.setFollow(false);
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

  /** Draws now (also what schedule() does on the next frame). */
  draw() {
    const el = this.element;
    const count = this.count;
    this.spacer.style.height = `${count * ROW}px`;
    if (this.follow) {
      const bottom = Math.max(0, count * ROW - el.clientHeight);
      if (Math.abs(el.scrollTop - bottom) > 1) {
        this.expectedTop = Math.round(Math.min(bottom, el.scrollHeight - el.clientHeight));
        el.scrollTop = bottom;
      }
    }
    const first = Math.max(0, Math.floor(el.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(count, Math.ceil((el.scrollTop + el.clientHeight) / ROW) + OVERSCAN);
    this.rows.style.transform = `translateY(${first * ROW}px)`;
    const out = [];
    for (let i = first; i < last; i++) out.push(this.row(this.shown ? this.shown[i] : i));
    this.rows.replaceChildren(...out);
  }

  row(index) {
    const entry = this.entries[index];
    const n = index + 1;
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
      'data-seq': entry.seq,
      title: `${entry.time} · ${runner ? 'runner' : 'function'}`,
    },
    h('a', { class: 'ln', href: `#L${n}`, 'aria-label': `line ${n}` }, String(n)),
    h('span', { class: 'src', 'aria-label': runner ? 'runner' : 'function' }, runner ? '▸' : ' '),
    msg);
  }

  /** The whole log as text (what download saves when the log is fully loaded). */
  text() {
    return this.entries.map((e) => `${e.time} ${e.source.padEnd(8)} ${ansi.strip(e.message)}`).join('\n') + '\n';
  }
}

