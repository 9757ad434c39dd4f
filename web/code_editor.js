// The custom-code editor: a monospace textarea whose Tab key indents (Shift+Tab outdents;
// Escape, then Tab, leaves the field so the keyboard is never trapped), Enter keeps the
// line's indentation, and a gutter of line numbers follows its scrolling.

import { h } from './dom.js';
import { nextId } from './fields.js';

/**
 * Answers `{ element, textarea, setIndent(unit) }`; `element` holds the gutter and the
 * textarea (which has `id` for its label).
 */
export function codeEditor({ id = nextId('code'), value = '', indent = '    ' } = {}) {
  let unit = indent;
  let escaped = false;
  let lines = 0;
  const gutter = h('pre', { class: 'code-gutter', 'aria-hidden': 'true' });
  const textarea = h('textarea', {
    id,
    class: 'code-input',
    spellcheck: 'false',
    autocapitalize: 'off',
    autocomplete: 'off',
    wrap: 'off',
    rows: 16,
  });
  textarea.value = value;
  const element = h('div', { class: 'code-editor' }, gutter, textarea);

  const renumber = () => {
    const count = textarea.value.split('\n').length;
    if (count !== lines) {
      lines = count;
      gutter.textContent = Array.from({ length: count }, (_, i) => i + 1).join('\n') + '\n';
    }
    gutter.scrollTop = textarea.scrollTop;
  };
  textarea.addEventListener('input', renumber);
  textarea.addEventListener('scroll', () => {
    gutter.scrollTop = textarea.scrollTop;
  });

  const replace = (text, start, end, select) => {
    textarea.setRangeText(text, start, end, select);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  };

  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      escaped = true;
      return;
    }
    if (event.key === 'Tab' && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (escaped) {
        escaped = false;
        return; // the browser moves the focus on
      }
      event.preventDefault();
      indentSelection(event.shiftKey);
      return;
    }
    escaped = false;
    if (event.key === 'Enter' && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      const start = textarea.selectionStart;
      const lineStart = textarea.value.lastIndexOf('\n', start - 1) + 1;
      const leading = /^[ \t]*/.exec(textarea.value.slice(lineStart, start))[0];
      event.preventDefault();
      replace(`\n${leading}`, start, textarea.selectionEnd, 'end');
    }
  });

  function indentSelection(outdent) {
    const { selectionStart: start, selectionEnd: end, value: text } = textarea;
    const lineStart = text.lastIndexOf('\n', start - 1) + 1;
    if (!outdent && start === end) {
      replace(unit, start, end, 'end');
      return;
    }
    const blockEnd = end > start && text[end - 1] === '\n' ? end - 1 : end;
    const block = text.slice(lineStart, blockEnd);
    const changed = block
      .split('\n')
      .map((line) => {
        if (!outdent) return unit + line;
        if (line.startsWith(unit)) return line.slice(unit.length);
        if (line.startsWith('\t')) return line.slice(1);
        return line.replace(/^ +/, '');
      })
      .join('\n');
    replace(changed, lineStart, blockEnd, 'select');
  }

  renumber();
  return {
    element,
    textarea,
    setIndent(next) {
      unit = next;
    },
    setValue(next) {
      textarea.value = next;
      renumber();
    },
  };
}
