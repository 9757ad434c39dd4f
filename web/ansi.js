// ANSI SGR colour codes to spans. Text goes in through textContent only; any other escape
// sequence (cursor moves, titles) is dropped.

const SEQUENCE = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function hasAnsi(text) {
  return text.includes('\x1b');
}

export function strip(text) {
  return text.replace(SEQUENCE, '');
}

function rgb256(n) {
  if (n < 16) return null;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

/** Appends `text` to `parent`, its SGR codes as spans with classes (or CSSOM colours). */
export function render(parent, text) {
  let state = { classes: [], fg: null, bg: null };
  let last = 0;
  const emit = (chunk) => {
    if (!chunk) return;
    if (!state.classes.length && !state.fg && !state.bg) {
      parent.append(document.createTextNode(chunk));
      return;
    }
    const span = document.createElement('span');
    span.className = state.classes.join(' ');
    if (state.fg) span.style.color = state.fg;
    if (state.bg) span.style.backgroundColor = state.bg;
    span.textContent = chunk;
    parent.append(span);
  };
  for (const m of text.matchAll(SEQUENCE)) {
    emit(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm') state = apply(state, m[1]);
  }
  emit(text.slice(last));
}

function apply(state, params) {
  const codes = params === '' ? [0] : params.split(';').map((c) => Number(c) || 0);
  let classes = [...state.classes];
  let { fg, bg } = state;
  const drop = (prefix) => (classes = classes.filter((c) => !c.startsWith(prefix)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) { classes = []; fg = null; bg = null; }
    else if (c === 1) classes.push('ansi-bold');
    else if (c === 2) classes.push('ansi-dim');
    else if (c === 3) classes.push('ansi-italic');
    else if (c === 4) classes.push('ansi-underline');
    else if (c === 22) classes = classes.filter((x) => x !== 'ansi-bold' && x !== 'ansi-dim');
    else if (c === 23) classes = classes.filter((x) => x !== 'ansi-italic');
    else if (c === 24) classes = classes.filter((x) => x !== 'ansi-underline');
    else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) { drop('ansi-fg-'); fg = null; classes.push(`ansi-fg-${c % 10}`); }
    else if ((c >= 40 && c <= 47) || (c >= 100 && c <= 107)) { drop('ansi-bg-'); bg = null; classes.push(`ansi-bg-${c % 10}`); }
    else if (c === 39) { drop('ansi-fg-'); fg = null; }
    else if (c === 49) { drop('ansi-bg-'); bg = null; }
    else if (c === 38 || c === 48) {
      let colour = null;
      if (codes[i + 1] === 5) { colour = rgb256(codes[i + 2]); if (colour === null) { const k = codes[i + 2] % 8; c === 38 ? (drop('ansi-fg-'), classes.push(`ansi-fg-${k}`)) : (drop('ansi-bg-'), classes.push(`ansi-bg-${k}`)); } i += 2; }
      else if (codes[i + 1] === 2) { colour = `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`; i += 4; }
      if (colour && c === 38) { drop('ansi-fg-'); fg = colour; }
      if (colour && c === 48) { drop('ansi-bg-'); bg = colour; }
    }
  }
  return { classes: [...new Set(classes)], fg, bg };
}
