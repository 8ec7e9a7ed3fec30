// What the tracking pages (trackers.ts, goals.ts, report.ts) share: a list
// read a page at a time, an item's edit form in its place, the browser's
// time zone, and the conversions between the API's RFC 3339 timestamps and
// the browser's date inputs.
import '../tracking.css';
import { api, ApiFailure } from '../api';
import { alertBox } from '../app';
import { h, type Form } from '../dom';

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// Every IANA zone the browser knows, the browser's own and UTC always among them.
export function zones(...also: string[]): string[] {
  const all = new Set(typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []);
  for (const z of ['UTC', browserZone(), ...also]) all.add(z);
  return [...all].sort();
}

const pad = (n: number) => String(n).padStart(2, '0');

// A timestamp as a datetime-local input shows it (the browser's time zone).
export function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A datetime-local input's value as RFC 3339 (undefined when empty).
export function fromLocalInput(v: string): string | undefined {
  return v ? new Date(v).toISOString() : undefined;
}

// A number input's value as a JSON number (undefined when empty).
export function num(v: string): number | undefined {
  return v.trim() === '' ? undefined : Number(v);
}

const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function when(iso: string): HTMLTimeElement {
  return h('time', { datetime: iso }, fmt.format(new Date(iso)));
}

// Today's date in the browser's time zone, YYYY-MM-DD.
export function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// An error's message with the reasons its details give, for an error about
// something that is not a form's field (the time zone of a chart or a report).
export function explain(e: unknown): string {
  if (!(e instanceof ApiFailure)) throw e;
  const why = Object.entries(e.error.details ?? {})
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k === 'tz' ? 'the time zone' : k} ${v}`);
  return why.length ? `${e.error.message}: ${why.join('; ')}` : e.error.message;
}

// A list read a page at a time, newest first (a tracker's logs, a goal's
// entries): url is the route with ?limit=20, key the answer's array; the
// button (moreLabel) adds the next page, load(false) reads the first again.
export function pagedList<T>(url: string, key: string, item: (x: T) => Node, empty: string, moreLabel: string) {
  const list = h('ul', { class: 'items' });
  const more = h('button', { type: 'button' }, moreLabel);
  const alert = alertBox();
  let next: string | null = null;
  const load = async (append: boolean) => {
    alert.clear();
    try {
      const r = await api<Record<string, unknown>>('GET', `${url}${append && next ? `&before=${encodeURIComponent(next)}` : ''}`);
      const items = r[key] as T[];
      if (!append) list.replaceChildren();
      if (!append && !items.length) list.append(h('li', {}, empty));
      for (const x of items) list.append(item(x));
      next = r.next as string | null;
      more.hidden = !next;
    } catch (e) {
      alert.show(e);
    }
  };
  more.addEventListener('click', () => void load(true));
  return { nodes: [list, alert.el, more], load };
}

// An item's edit form in its place (a log, an entry): under its title, with
// Cancel, which draws the item again (view) and gives its first button the
// focus; the form's first field takes the focus.
export function editInPlace(li: HTMLElement, title: string, f: Form, view: () => void): void {
  const cancel = h('button', { type: 'button' }, 'Cancel');
  cancel.addEventListener('click', () => {
    view();
    li.querySelector('button')?.focus();
  });
  f.form.append(' ', cancel);
  li.replaceChildren(h('h3', {}, title), f.form);
  f.form.querySelector<HTMLElement>('input, textarea, select')?.focus();
}
