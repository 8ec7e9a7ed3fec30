// Admin (/admin, role admin): the audit log (GET /admin/logs), newest first,
// with its level and source filters and "Older" paging, all in the URL, so
// that every page of it has its address and back and forward work
// (docs/web.md). Anyone else sees the API's 403 message.
import './admin.css';
import { api, ApiFailure } from '../api';
import { go, link, page, route } from '../app';
import { h, makeForm } from '../dom';

interface LogRow {
  id: number;
  logged_at: string;
  level: string;
  source: string;
  message: string;
  account_id: number | null;
  username: string | null;
  client_ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
}

// A row's details as "key: value" text (never markup).
function detailsText(d: Record<string, unknown> | null): string {
  if (!d) return '';
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function adminURL(q: Record<string, string>): string {
  const p = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== ''));
  const s = p.toString();
  return '/admin' + (s ? '?' + s : '');
}

route(
  '/admin',
  async ({ query }) => {
    const level = query.get('level') ?? '';
    const source = query.get('source') ?? '';
    const before = query.get('before') ?? '';
    const f = makeForm(
      [
        { name: 'level', label: 'Level', type: 'select', autocomplete: 'off', value: level.toUpperCase(), options: [['', 'Any'], ['DEBUG', 'Debug and above'], ['INFO', 'Info and above'], ['WARN', 'Warn and above'], ['ERROR', 'Error']] },
        { name: 'source', label: 'Source', type: 'text', autocomplete: 'off', value: source, required: false },
      ],
      'Filter',
      'log-',
    );
    f.form.classList.add('filters');
    f.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = f.values();
      go(adminURL({ level: v.level, source: v.source.trim() }));
    });

    let answer: { logs: LogRow[]; next: number | null };
    try {
      answer = await api('GET', '/admin/logs' + adminURL({ level, source, before }).slice('/admin'.length));
    } catch (e) {
      if (!(e instanceof ApiFailure) || e.error.status === 401) throw e;
      // A 403 for anyone but an admin: the API's message alone; a 422 for a
      // bad filter: the form shows it, under the filter it names.
      if (e.error.status === 403) page('Admin', h('p', { class: 'error', role: 'alert' }, e.error.message));
      else {
        page('Admin', f.form);
        f.showError(e.error.message, e.error.details);
      }
      return;
    }

    const rows = answer.logs.map((r) =>
      h(
        'tr',
        { class: 'level-' + r.level.toLowerCase(), 'data-id': String(r.id) },
        h('td', {}, h('time', { datetime: r.logged_at }, new Date(r.logged_at).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }))),
        h('td', {}, r.level),
        h('td', {}, r.source),
        h('td', {}, r.message),
        h('td', {}, r.username ?? (r.account_id === null ? '' : `#${r.account_id} (deleted)`)),
        h('td', {}, r.client_ip ?? ''),
        h('td', { class: 'details' }, detailsText(r.details)),
      ),
    );
    const table = h(
      'table',
      {},
      h('caption', {}, ['Audit log', level && `${level.toUpperCase()} and above`, source && `source ${source}`, before ? `older than entry ${before}` : 'newest first'].filter(Boolean).join(', ')),
      h('thead', {}, h('tr', {}, ...['Time', 'Level', 'Source', 'Message', 'Account', 'Client IP', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows),
    );
    const paging: Node[] = [];
    if (before) paging.push(link(adminURL({ level, source }), 'Newest'));
    if (answer.next !== null) paging.push(link(adminURL({ level, source, before: String(answer.next) }), 'Older'));
    page(
      'Admin',
      f.form,
      rows.length ? h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Audit log' }, table) : h('p', {}, 'No entries.'),
      h('p', { class: 'paging' }, ...paging.flatMap((n, i) => (i ? [' · ', n] : [n]))),
    );
  },
  { login: true },
);
