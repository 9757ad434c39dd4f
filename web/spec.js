// The names the console shows that the API defines: read once from the service's own
// OpenAPI document (/openapi.json), so a status, a runtime, a phase or a setting added to
// the API appears here without a copy to keep in step.

const doc = await fetch('/openapi.json', { cache: 'no-store' }).then((r) => r.json());
const schemas = doc.components.schemas;

/** The values of one of the spec's string enums, in the spec's order. */
const values = (name) => schemas[name].enum;

/** Every run status; `queued` and `running` are the unfinished ones (RunStatus). */
export const STATUSES = values('RunStatus');
export const FINISHED = new Set(STATUSES.filter((s) => s !== 'queued' && s !== 'running'));

/** A run's phases, in the order a run passes them (RunPhase). */
export const PHASES = values('RunPhase');

/** Runtimes by language, newest first (CustomCodeStep.runtime). */
export const RUNTIMES = (() => {
  const languages = [['Python', 'python'], ['Node.js', 'nodejs'], ['Ruby', 'ruby']];
  const all = schemas.CustomCodeStep.properties.runtime.enum;
  const version = (name) => name.replace(/^\D+/, '').replace(/\.x$/, '').split('.').map(Number);
  const newer = (a, b) => {
    const [x, y] = [version(a), version(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((y[i] ?? 0) !== (x[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
    return 0;
  };
  return Object.fromEntries(languages.map(([label, prefix]) =>
    [label, all.filter((name) => name.startsWith(prefix)).sort(newer)]));
})();

/** What each project setting means, by its key, as the spec describes it (ProjectSettings);
 * the spec's code marks are dropped for plain text. */
export const SETTING_HINTS = Object.fromEntries(
  Object.entries(schemas.ProjectSettings.properties).map(([key, schema]) => [key, schema.description.replaceAll('`', '')]),
);
