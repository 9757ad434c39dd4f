// The step form for both step kinds, as used by the new-run page: its fields, the step it
// describes (`read()`), and loading a saved step into it (`load(step)`). Payload and
// client context are checked as JSON while they are typed; KEY=VALUE lines and package
// lines are parsed locally; everything else (ranges, names, patterns) is the API's to judge,
// and its 422 lands beside the field its `field` path names.

import { h } from './dom.js';
import { codeEditor } from './code_editor.js';
import { field, nextId, parseJson, parsePairs, pairsText, setFieldError } from './fields.js';

import { RUNTIMES } from './spec.js';
const DEFAULT_RUNTIME = 'python3.12';

/** A handler that runs as it is, per language: prints the event, returns a value. */
const TEMPLATES = {
  python: {
    indent: '    ',
    handler: 'lambda_function.lambda_handler',
    code: `import json


def lambda_handler(event, context):
    print("got event:", json.dumps(event))
    return {"ok": True, "echo": event}
`,
  },
  nodejs: {
    indent: '  ',
    handler: 'index.handler',
    code: `export const handler = async (event, context) => {
  console.log('got event:', JSON.stringify(event));
  return { ok: true, echo: event };
};
`,
  },
  ruby: {
    indent: '  ',
    handler: 'lambda_function.lambda_handler',
    code: `require 'json'

def lambda_handler(event:, context:)
  puts "got event: #{event.to_json}"
  { ok: true, echo: event }
end
`,
  },
};

function languageOf(runtime) {
  return runtime.startsWith('nodejs') ? 'nodejs' : runtime.startsWith('ruby') ? 'ruby' : 'python';
}

const input = (attrs = {}) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
const area = (attrs = {}) => h('textarea', { spellcheck: 'false', autocapitalize: 'off', rows: 4, ...attrs });

/** A JSON field checked as it is typed: the parser's message shows beside it. */
function jsonField(label, path, { value = '', hint, optional = false } = {}) {
  const control = area({ class: 'mono', rows: 5, name: path.replace('step.', '') });
  control.value = value;
  const wrap = field(label, control, { path, hint });
  const check = () => {
    const text = control.value.trim();
    if (!text && optional) return setFieldError(wrap, '');
    const parsed = parseJson(text || '');
    setFieldError(wrap, parsed.error ? `Not valid JSON: ${parsed.error}` : '');
  };
  control.addEventListener('input', check);
  wrap.read = () => {
    const text = control.value.trim();
    if (!text && optional) return undefined;
    const parsed = parseJson(text);
    if (parsed.error) throw new LocalError(wrap, `Not valid JSON: ${parsed.error}`);
    return parsed.value;
  };
  wrap.check = check;
  return wrap;
}

/** A mistake found before sending: the field it belongs to, and what is wrong. */
export class LocalError extends Error {
  constructor(wrap, message) {
    super(message);
    this.wrap = wrap;
  }
}

/**
 * Builds the form's fields. Answers { element, fields, read(), load(step), kind() } where
 * `read()` answers the step object or throws a LocalError.
 */
export function stepForm() {
  const kindName = nextId('kind');
  const kindInvoke = h('input', { type: 'radio', name: kindName, value: 'lambda_invoke', id: `${kindName}-invoke`, checked: true });
  const kindCode = h('input', { type: 'radio', name: kindName, value: 'lambda_custom_code', id: `${kindName}-code` });
  const kindSet = h(
    'fieldset',
    { class: 'step-kind' },
    h('legend', {}, 'Step type'),
    h('label', { for: kindInvoke.id }, kindInvoke, ' Invoke a function'),
    h('label', { for: kindCode.id }, kindCode, ' Custom code'),
  );

  // Invoke
  const functionName = field('Function name', input({ name: 'function_name', required: true, placeholder: 'my-function' }), {
    path: 'step.function_name',
    hint: 'A name, partial ARN or ARN, optionally with :qualifier.',
  });
  const invocationType = field(
    'Invocation type',
    h(
      'select',
      { name: 'invocation_type' },
      h('option', { value: 'RequestResponse' }, 'RequestResponse (wait for the answer)'),
      h('option', { value: 'Event' }, 'Event (asynchronous)'),
      h('option', { value: 'DryRun' }, 'DryRun (check access only)'),
    ),
    { path: 'step.invocation_type' },
  );
  const qualifier = field('Qualifier', input({ name: 'qualifier', placeholder: '$LATEST, a version or an alias' }), {
    path: 'step.qualifier',
    hint: 'Optional.',
  });
  const clientContext = jsonField('Client context', 'step.client_context', {
    optional: true,
    hint: 'Optional JSON object, e.g. {"custom": {"k": "v"}}; synchronous calls only.',
  });
  const invokeSet = h(
    'fieldset',
    { class: 'step-fields', 'data-kind': 'lambda_invoke' },
    h('legend', {}, 'Invoke'),
    functionName,
    invocationType,
    qualifier,
    clientContext,
  );

  // Custom code
  const runtimeSelect = h(
    'select',
    { name: 'runtime' },
    Object.entries(RUNTIMES).map(([group, names]) =>
      h('optgroup', { label: group }, names.map((name) => h('option', { value: name, selected: name === DEFAULT_RUNTIME }, name))),
    ),
  );
  const runtime = field('Runtime', runtimeSelect, { path: 'step.runtime' });
  const template = TEMPLATES[languageOf(DEFAULT_RUNTIME)];
  const editor = codeEditor({ value: template.code, indent: template.indent });
  editor.textarea.name = 'code';
  const code = field('Code', editor.textarea, {
    path: 'step.code',
    hint: 'Tab indents and Shift+Tab outdents; press Escape, then Tab, to leave the editor.',
  });
  // The editor's box (gutter + textarea) takes the textarea's place in the field.
  code.insertBefore(editor.element, code.hintLine);
  editor.element.append(editor.textarea);
  const handler = field('Handler', input({ name: 'handler', placeholder: template.handler }), {
    path: 'step.handler',
    hint: 'file.function; empty for the runtime default.',
  });
  const timeout = field('Timeout (seconds)', input({ name: 'timeout_seconds', inputmode: 'numeric' }), {
    path: 'step.timeout_seconds',
    hint: '1 to 900.',
  });
  timeout.control.value = '30';
  const memory = field('Memory (MB)', input({ name: 'memory_mb', inputmode: 'numeric' }), {
    path: 'step.memory_mb',
    hint: '128 to 10240.',
  });
  memory.control.value = '128';
  const environment = field('Environment', area({ class: 'mono', name: 'environment', placeholder: 'STAGE=prod' }), {
    path: 'step.environment',
    hint: 'One KEY=VALUE a line.',
  });
  const packages = field('Packages', area({ class: 'mono', name: 'packages', placeholder: 'requests==2.32.3' }), {
    path: 'step.packages',
    hint: "One a line, as the runtime's installer takes them (pip, npm name@version, gem name:version).",
  });
  const description = field('Description', input({ name: 'description' }), { path: 'step.description', hint: 'Optional: set on the function.' });
  const tags = field('Tags', area({ class: 'mono', name: 'tags', rows: 3, placeholder: 'team=sre' }), {
    path: 'step.tags',
    hint: 'One KEY=VALUE a line: set on the function.',
  });
  // A durable function's execution is followed operation by operation; its config is sent
  // only when a number is given (the API's defaults: one day each).
  const durableBox = h('input', { type: 'checkbox', name: 'durable' });
  const durable = field('Durable function', durableBox, {
    path: 'step.durable',
    hint: 'Python 3.11+ or Node.js 22+ (not Ruby): runs as a durable execution whose steps, waits and callbacks the log shows.',
  });
  durable.classList.add('check');
  const executionTimeout = field('Execution timeout (seconds)', input({ name: 'execution_timeout', inputmode: 'numeric' }), {
    path: 'step.durable_config.execution_timeout',
    hint: 'Durable only: 1 to 31622400; empty for one day.',
  });
  const retention = field('History kept (days)', input({ name: 'retention_period_in_days', inputmode: 'numeric' }), {
    path: 'step.durable_config.retention_period_in_days',
    hint: 'Durable only: 1 to 90; empty for one day.',
  });
  const keepBox = h('input', { type: 'checkbox', name: 'keep_function', id: nextId('keep') });
  const keep = h('div', { class: 'field check' }, keepBox, h('label', { for: keepBox.id }, ' Keep the function after the run'));
  const codeSet = h(
    'fieldset',
    { class: 'step-fields', 'data-kind': 'lambda_custom_code', hidden: true },
    h('legend', {}, 'Custom code'),
    runtime,
    code,
    handler,
    h('div', { class: 'field-row' }, timeout, memory),
    environment,
    packages,
    description,
    tags,
    durable,
    h('div', { class: 'field-row' }, executionTimeout, retention),
    keep,
  );

  const payload = jsonField('Payload', 'step.payload', { value: '{}', hint: 'The event, as JSON; checked as you type.' });

  // A new runtime gets its language's handler unless the code was edited since.
  let prefilled = template.code;
  runtimeSelect.addEventListener('change', () => {
    const next = TEMPLATES[languageOf(runtimeSelect.value)];
    editor.setIndent(next.indent);
    handler.control.placeholder = next.handler;
    if (editor.textarea.value === prefilled || !editor.textarea.value.trim()) {
      editor.setValue(next.code);
      prefilled = next.code;
    }
  });

  const kind = () => (kindCode.checked ? 'lambda_custom_code' : 'lambda_invoke');
  const showKind = () => {
    invokeSet.hidden = kind() !== 'lambda_invoke';
    codeSet.hidden = kind() !== 'lambda_custom_code';
  };
  kindInvoke.addEventListener('change', showKind);
  kindCode.addEventListener('change', showKind);

  const fields = [functionName, invocationType, qualifier, clientContext, runtime, code, handler, timeout, memory, environment, packages, description, tags, durable, executionTimeout, retention, payload];

  const pairs = (wrap) => {
    try {
      return parsePairs(wrap.control.value);
    } catch (e) {
      throw new LocalError(wrap, e.message);
    }
  };
  const number = (wrap) => {
    const text = wrap.control.value.trim();
    if (!text) return undefined;
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text; // the API names what is wrong
  };
  const text = (wrap) => wrap.control.value.trim() || undefined;

  function read() {
    const step = { type: kind() };
    if (step.type === 'lambda_invoke') {
      step.function_name = functionName.control.value.trim();
      step.payload = payload.read();
      step.invocation_type = invocationType.control.value;
      step.qualifier = text(qualifier);
      step.client_context = clientContext.read();
    } else {
      step.runtime = runtimeSelect.value;
      step.code = editor.textarea.value;
      step.handler = text(handler);
      step.payload = payload.read();
      step.timeout_seconds = number(timeout);
      step.memory_mb = number(memory);
      const env = pairs(environment);
      if (Object.keys(env).length) step.environment = env;
      const list = packages.control.value.split('\n').map((l) => l.trim()).filter(Boolean);
      // Sent only when used: a service without package support still takes the rest.
      if (list.length) step.packages = list;
      step.description = text(description);
      const tagPairs = pairs(tags);
      if (Object.keys(tagPairs).length) step.tags = tagPairs;
      if (durableBox.checked) {
        step.durable = true;
        const config = {
          execution_timeout: number(executionTimeout),
          retention_period_in_days: number(retention),
        };
        for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
        if (Object.keys(config).length) step.durable_config = config;
      }
      if (keepBox.checked) step.keep_function = true;
    }
    for (const key of Object.keys(step)) if (step[key] === undefined) delete step[key];
    return step;
  }

  /** Fills the form from a step (a saved one). */
  function load(step) {
    const setText = (wrap, value) => {
      wrap.control.value = value === undefined || value === null ? '' : String(value);
    };
    if (step.type === 'lambda_custom_code') {
      kindCode.checked = true;
      runtimeSelect.value = step.runtime;
      editor.setIndent(TEMPLATES[languageOf(step.runtime)].indent);
      editor.setValue(step.code ?? '');
      prefilled = null;
      setText(handler, step.handler);
      setText(timeout, step.timeout_seconds ?? 30);
      setText(memory, step.memory_mb ?? 128);
      environment.control.value = pairsText(step.environment);
      packages.control.value = (step.packages ?? []).join('\n');
      setText(description, step.description);
      tags.control.value = pairsText(step.tags);
      durableBox.checked = Boolean(step.durable);
      setText(executionTimeout, step.durable_config?.execution_timeout);
      setText(retention, step.durable_config?.retention_period_in_days);
      keepBox.checked = Boolean(step.keep_function);
    } else {
      kindInvoke.checked = true;
      setText(functionName, step.function_name);
      invocationType.control.value = step.invocation_type ?? 'RequestResponse';
      setText(qualifier, step.qualifier);
      clientContext.control.value = step.client_context ? JSON.stringify(step.client_context, null, 2) : '';
    }
    payload.control.value = JSON.stringify(step.payload ?? {}, null, 2);
    showKind();
  }

  const element = h('div', { class: 'step-form' }, kindSet, invokeSet, codeSet, payload);
  return { element, fields, read, load, kind, editor };
}
