// New run: the step form for both kinds; Run submits it and goes to the run's page, Save
// keeps it under a name (`/new?project=p&step=name` opens a saved step in the form).
// Readers are not offered the form.

import { h, fill } from './dom.js';
import * as api from './api.js';
import { mayRun } from './session.js';
import { stepForm, LocalError } from './step_form.js';
import { clearErrors, field, formAlert, placeApiError, setAlert, setFieldError } from './fields.js';
import { findSavedStep } from './steps.js';

export const routes = [{ path: '/new', title: 'New run', render: renderNewRun }];
export const nav = [
  { label: 'New run', href: (ctx) => `/new?project=${encodeURIComponent(ctx.project)}`, show: (s) => s.role !== 'reader' },
];

async function renderNewRun(ctx) {
  const { main, project, session, signal } = ctx;
  if (!mayRun(session, project)) {
    fill(
      main,
      h('h1', {}, 'New run'),
      h('p', { class: 'notice' }, `This token may not start runs in project ${project}.`),
      h('p', {}, h('a', { href: `/runs?project=${encodeURIComponent(project)}` }, 'See the runs')),
    );
    return;
  }
  const form = stepForm();
  const alert = formAlert();
  const saveName = field('Save as', h('input', { type: 'text', name: 'name', autocomplete: 'off', spellcheck: 'false', placeholder: 'restart-worker' }), {
    path: 'name',
    hint: 'A name for this step in the project: A-Z, a-z, 0-9, ".", "_" and "-".',
  });
  const saved = h('p', { class: 'form-status', role: 'status' });
  const runButton = h('button', { type: 'submit', class: 'primary' }, 'Run');
  const saveButton = h('button', { type: 'button', class: 'secondary' }, 'Save step');
  const formEl = h(
    'form',
    { class: 'new-run', novalidate: true, 'aria-labelledby': 'new-run-title' },
    alert,
    form.element,
    h('div', { class: 'actions' }, runButton),
    h('fieldset', { class: 'save-step' }, h('legend', {}, 'Saved steps'), saveName, h('div', { class: 'actions' }, saveButton), saved),
  );
  fill(
    main,
    h('h1', { id: 'new-run-title' }, 'New run'),
    h('p', { class: 'lede' }, 'in project ', h('strong', {}, project), ' · ', h('a', { href: `/steps?project=${encodeURIComponent(project)}` }, 'saved steps')),
    formEl,
  );

  const fields = [...form.fields, saveName];
  const stepName = ctx.query.get('step');
  if (stepName) {
    try {
      const found = await findSavedStep(project, stepName, signal);
      if (found) {
        form.load(found.step);
        saveName.control.value = stepName;
      } else {
        setAlert(alert, `No saved step named ${stepName} in project ${project}.`);
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      setAlert(alert, e.message);
    }
  }

  /** The step, or null after showing what is wrong with it. */
  const readStep = () => {
    clearErrors(fields, alert);
    saved.textContent = '';
    try {
      return form.read();
    } catch (e) {
      if (!(e instanceof LocalError)) throw e;
      setFieldError(e.wrap, e.message);
      e.wrap.control.focus();
      return null;
    }
  };
  const busy = (on) => {
    runButton.disabled = on;
    saveButton.disabled = on;
    formEl.setAttribute('aria-busy', on ? 'true' : 'false');
  };

  formEl.addEventListener('submit', async (event) => {
    event.preventDefault();
    const step = readStep();
    if (!step) return;
    busy(true);
    try {
      const run = await api.post(api.path`/v1/projects/${project}/runs`, { step }, { signal });
      ctx.navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      placeApiError(fields, alert, e);
    } finally {
      busy(false);
    }
  });

  saveButton.addEventListener('click', async () => {
    const step = readStep();
    if (!step) return;
    const name = saveName.control.value.trim();
    if (!name) {
      setFieldError(saveName, 'Give the step a name to save it under.');
      saveName.control.focus();
      return;
    }
    busy(true);
    try {
      await api.put(api.path`/v1/projects/${project}/steps/${name}`, { step }, { signal });
      saved.replaceChildren(
        `Saved as ${name}. `,
        h('a', { href: `/steps?project=${encodeURIComponent(project)}` }, 'See the saved steps'),
      );
    } catch (e) {
      if (e.name === 'AbortError') return;
      placeApiError(fields, alert, e);
    } finally {
      busy(false);
    }
  });
}
