// Small DOM helpers: elements built with textContent only (never innerHTML),
// so nothing the API answers can become markup.

type Attrs = Record<string, string>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

export interface Field {
  name: string; // the API's field name (and the key of an error's details)
  label: string;
  type: string; // an input's type, or 'textarea', or 'select' (with options)
  autocomplete: string;
  value?: string; // the value it starts with
  required?: boolean; // true unless false
  options?: [string, string][]; // a select's [value, text] pairs
  step?: string; // a number input's step ('any' for decimals)
}

// A form of labelled inputs, each with a place for its own error under it,
// a place for the form's error, and one submit button.
export interface Form {
  form: HTMLFormElement;
  values(): Record<string, string>;
  showError(message: string, details?: Record<string, unknown> | null, codeField?: string): void;
  clearErrors(): void;
  busy(on: boolean): void;
}

// With several forms on one page, each gets its own idPrefix, so that the
// ids (and the labels' for) stay unique: 'f-' + idPrefix + name.
export function makeForm(fields: Field[], button: string, idPrefix = ''): Form {
  const form = h('form', { novalidate: '' });
  const formError = h('p', { class: 'error', role: 'alert' });
  const inputs = new Map<string, HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>();
  const errors = new Map<string, HTMLElement>();
  for (const f of fields) {
    const id = 'f-' + idPrefix + f.name;
    const attrs: Record<string, string> = { id, name: f.name, autocomplete: f.autocomplete };
    if (f.required !== false) attrs.required = '';
    const input =
      f.type === 'textarea'
        ? h('textarea', attrs)
        : f.type === 'select'
          ? h('select', attrs, ...(f.options ?? []).map(([v, t]) => h('option', { value: v }, t)))
          : h('input', { ...attrs, type: f.type, ...(f.step ? { step: f.step } : {}) });
    if (f.value !== undefined) input.value = f.value;
    const err = h('p', { id: id + '-error', class: 'field-error' });
    inputs.set(f.name, input);
    errors.set(f.name, err);
    form.append(h('div', { class: 'field' }, h('label', { for: id }, f.label), input, err));
  }
  const submit = h('button', { type: 'submit' }, button);
  form.append(formError, submit);
  return {
    form,
    values: () => Object.fromEntries([...inputs].map(([k, i]) => [k, i.value])),
    clearErrors() {
      formError.textContent = '';
      for (const [k, e] of errors) {
        e.textContent = '';
        inputs.get(k)!.removeAttribute('aria-invalid');
        inputs.get(k)!.removeAttribute('aria-describedby');
      }
    },
    showError(message, details, codeField) {
      formError.textContent = message;
      const byField: Record<string, unknown> = { ...(details ?? {}) };
      if (codeField && !(codeField in byField)) byField[codeField] = message;
      let first: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | undefined;
      for (const [k, v] of Object.entries(byField)) {
        const input = inputs.get(k);
        if (!input || typeof v !== 'string') continue;
        errors.get(k)!.textContent = v;
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', input.id + '-error');
        first ??= input;
      }
      first?.focus();
    },
    busy(on) {
      submit.disabled = on;
    },
  };
}
