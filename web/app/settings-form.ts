// The settings form, built from the toolkit's option table (llm/train/options.ts): the same names
// and defaults as `wgrad train`, read back as option values, and YAML in and out (the keys
// `wgrad train --config` reads, config-yaml.ts).
import { checkTrainOptions, TRAIN_OPTIONS, type TrainOptionValues } from '../../llm/index.ts';

export function buildForm(form: HTMLFormElement): void {
  form.textContent = '';
  for (const o of TRAIN_OPTIONS) {
    const label = document.createElement('label');
    label.textContent = o.name;
    label.htmlFor = `opt-${o.name}`;
    label.title = o.help;
    let input: HTMLInputElement | HTMLSelectElement;
    if (o.kind === 'choice') {
      input = document.createElement('select');
      for (const c of o.choices!) input.append(new Option(c, c));
    } else {
      input = document.createElement('input');
      input.type = o.kind === 'boolean' ? 'checkbox' : o.kind === 'string' ? 'text' : 'number';
      if (o.kind === 'number') input.step = 'any';
      input.placeholder = o.default === undefined ? 'unset' : '';
    }
    input.id = `opt-${o.name}`;
    input.name = o.name;
    input.title = o.help;
    form.append(label, input);
  }
  setValues(form, {});
}

/** Fills the form: given values, else the defaults. */
export function setValues(form: HTMLFormElement, v: TrainOptionValues): void {
  for (const o of TRAIN_OPTIONS) {
    const el = form.elements.namedItem(o.name) as HTMLInputElement | HTMLSelectElement;
    const value = v[o.name] ?? o.default;
    if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = value === true;
    else el.value = value === undefined ? '' : String(value);
  }
}

/** The form's values, checked (an error names the option). */
export function readValues(form: HTMLFormElement): TrainOptionValues {
  const raw: Record<string, unknown> = {};
  for (const o of TRAIN_OPTIONS) {
    const el = form.elements.namedItem(o.name) as HTMLInputElement | HTMLSelectElement;
    raw[o.name] = el instanceof HTMLInputElement && el.type === 'checkbox' ? el.checked : el.value.trim();
  }
  return checkTrainOptions(raw, 'settings');
}
