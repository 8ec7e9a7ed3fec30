// Trackers (docs/api.md, "Tracking: trackers and logs"): the list and a new
// tracker at /trackers; a tracker at /trackers/:id with its chart (the series
// route, per day, week or month in a time zone, drawn by chart.ts, which is
// loaded only here), its logs (add, edit, delete), and its own edit and delete.
import { api } from '../api';
import { alertBox, confirmButton, go, link, onSubmit, page, route } from '../app';
import { h, makeForm, type Field } from '../dom';
import { browserZone, editInPlace, explain, pagedList, fromLocalInput, num, toLocalInput, when, zones } from './tracking';

interface Tracker {
  id: number;
  name: string;
  description: string;
  type: 'note' | 'numerical';
  unit: string | null;
  what_to_track: string | null;
  created_at: string;
  updated_at: string;
  log_count: number;
  last_logged_at: string | null;
}

interface Log {
  id: number;
  tracker_id: number;
  value: number | null;
  note: string;
  emotion: string | null;
  event_reminder_msg: string | null;
  event_date: string | null;
  logged_at: string;
}

interface Bucket {
  bucket: string;
  count: number;
  sum?: number | null;
  avg?: number | null;
  min?: number | null;
  max?: number | null;
}

const emotions = ['happy', 'calm', 'neutral', 'tired', 'anxious', 'sad', 'angry'];
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function summary(t: Tracker): string {
  const kind = t.type === 'numerical' ? `Numbers${t.unit ? ` in ${t.unit}` : ''}` : 'Notes';
  const logs = `${t.log_count} ${t.log_count === 1 ? 'log' : 'logs'}`;
  return `${kind} · ${logs}`;
}

route(
  '/trackers',
  async () => {
    const { trackers } = await api<{ trackers: Tracker[] }>('GET', '/trackers');
    const list = trackers.length
      ? h(
          'ul',
          { class: 'items' },
          ...trackers.map((t) =>
            h('li', {}, link(`/trackers/${t.id}`, t.name), h('p', { class: 'meta' }, summary(t), ...(t.last_logged_at ? [' · last ', when(t.last_logged_at)] : []))),
          ),
        )
      : h('p', {}, 'No trackers yet: make your first one below.');
    const f = makeForm(
      [
        { name: 'name', label: 'Name', type: 'text', autocomplete: 'off' },
        { name: 'type', label: 'Type', type: 'select', autocomplete: 'off', options: [['numerical', 'Numbers (each log has a value)'], ['note', 'Notes (free text)']] },
        { name: 'unit', label: 'Unit (numbers only)', type: 'text', autocomplete: 'off', required: false },
        { name: 'what_to_track', label: 'What to track (numbers only)', type: 'text', autocomplete: 'off', required: false },
        { name: 'description', label: 'Description', type: 'textarea', autocomplete: 'off', required: false },
      ],
      'Create tracker',
      'new-',
    );
    onSubmit(
      f,
      async (v) => {
        const { tracker } = await api<{ tracker: Tracker }>('POST', '/trackers', {
          name: v.name,
          type: v.type,
          unit: v.unit || undefined,
          what_to_track: v.what_to_track || undefined,
          description: v.description || undefined,
        });
        go(`/trackers/${tracker.id}`);
      },
      { CONFLICT: 'name' },
    );
    page('Trackers', list, h('h2', {}, 'New tracker'), f.form);
  },
  { login: true },
);

// The fields of a log, for a new log and for an edit (filled with the log's values).
function logFields(t: Tracker, l?: Log): Field[] {
  const fields: Field[] = [];
  if (t.type === 'numerical') {
    fields.push({ name: 'value', label: `Value${t.unit ? ` (${t.unit})` : ''}`, type: 'number', step: 'any', autocomplete: 'off', value: l?.value?.toString(), required: !l });
  }
  fields.push(
    { name: 'note', label: 'Note', type: 'textarea', autocomplete: 'off', required: false, value: l?.note },
    { name: 'emotion', label: 'Emotion', type: 'select', autocomplete: 'off', required: false, value: l?.emotion ?? '', options: [['', 'None'], ...emotions.map((e): [string, string] => [e, cap(e)])] },
    { name: 'logged_at', label: 'When (empty: now)', type: 'datetime-local', autocomplete: 'off', required: false, value: toLocalInput(l?.logged_at ?? null) },
    { name: 'event_date', label: 'Reminder date', type: 'date', autocomplete: 'off', required: false, value: l?.event_date ?? '' },
    { name: 'event_reminder_msg', label: 'Reminder message', type: 'text', autocomplete: 'off', required: false, value: l?.event_reminder_msg ?? '' },
  );
  return fields;
}

route(
  '/trackers/:id',
  async ({ params, query }) => {
    const base = `/trackers/${encodeURIComponent(params.id)}`;
    let { tracker: t } = await api<{ tracker: Tracker }>('GET', base);
    const numerical = t.type === 'numerical';
    const about = h('p', { class: 'meta' });
    const describe = () => {
      about.replaceChildren(summary(t), ...(t.what_to_track ? [` · ${t.what_to_track}`] : []));
      if (t.description) about.append(h('br'), t.description);
    };
    describe();

    // The chart, its settings in the URL's query (so a reload or a shared link keeps them).
    const bucket = makeSelect('chart-bucket', 'Per', query.get('bucket') ?? 'day', [['day', 'Day'], ['week', 'Week'], ['month', 'Month']]);
    const tz = makeSelect('chart-tz', 'Time zone', query.get('tz') ?? browserZone(), zones(query.get('tz') ?? '').map((z) => [z, z]));
    const measures: [string, string][] = numerical
      ? [['sum', 'Sum'], ['avg', 'Average'], ['min', 'Minimum'], ['max', 'Maximum'], ['count', 'Number of logs']]
      : [['count', 'Number of logs']];
    const show = makeSelect('chart-show', 'Show', query.get('show') ?? measures[0][0], measures);
    const figure = h('div', { class: 'chart', role: 'img' });
    const tableWrap = h('div', { class: 'table-wrap' });
    const chartAlert = alertBox();
    let drawn = 0;
    const loadChart = async () => {
      if (!figure.isConnected) return; // another page shows now: its URL stays
      const n = ++drawn;
      chartAlert.clear();
      const q = new URLSearchParams({ bucket: bucket.select.value, tz: tz.select.value });
      if (numerical) q.set('show', show.select.value);
      history.replaceState(history.state, '', `${location.pathname}?${q}`);
      let series: Bucket[];
      try {
        ({ series } = await api<{ series: Bucket[] }>('GET', `${base}/series?bucket=${encodeURIComponent(bucket.select.value)}&tz=${encodeURIComponent(tz.select.value)}`));
      } catch (e) {
        if (n !== drawn) return;
        chartAlert.el.textContent = explain(e);
        figure.replaceChildren();
        figure.setAttribute('aria-label', `Chart of ${t.name}: not drawn`);
        tableWrap.replaceChildren();
        return;
      }
      if (n !== drawn) return;
      const m = show.select.value as keyof Bucket;
      const what = show.select.selectedOptions[0]?.textContent ?? '';
      const label = `${what}${numerical && m !== 'count' && t.unit ? ` (${t.unit})` : ''}`;
      const span = series.length ? `, ${bucketName(bucket.select.value, series[0].bucket)} to ${bucketName(bucket.select.value, series[series.length - 1].bucket)}` : '';
      figure.setAttribute('aria-label', `Chart of ${t.name}: ${label.toLowerCase()} per ${bucket.select.value}${span}, in ${tz.select.value}. The same numbers are in the table below.`);
      tableWrap.replaceChildren(seriesTable(t, series, bucket.select.value, tz.select.value));
      try {
        const { drawChart } = await import('../chart');
        if (n !== drawn) return;
        drawChart(figure, {
          dates: series.map((b) => b.bucket),
          values: series.map((b) => (b[m] as number | null | undefined) ?? null),
          label,
          bucket: bucket.select.value as 'day' | 'week' | 'month',
        });
      } catch {
        figure.replaceChildren();
        chartAlert.el.textContent = 'The chart could not be loaded; the table holds its numbers.';
      }
    };
    for (const s of [bucket, tz, show]) s.select.addEventListener('change', () => void loadChart());
    const controls = h('div', { class: 'chart-controls' }, bucket.field, tz.field, ...(numerical ? [show.field] : []));

    // The logs: newest first, a page at a time.
    const logs = pagedList<Log>(`${base}/logs?limit=20`, 'logs', (l) => logItem(l), 'No logs yet.', 'Older logs');
    const loadLogs = logs.load;

    // After a log changes: the tracker's counts, the chart, the list.
    const refresh = async () => {
      ({ tracker: t } = await api<{ tracker: Tracker }>('GET', base));
      describe();
      await Promise.all([loadLogs(false), loadChart()]);
    };

    const logItem = (l: Log): HTMLLIElement => {
      const li = h('li', { class: 'log' });
      const view = () => {
        const parts: Node[] = [h('p', { class: 'meta' }, when(l.logged_at), ...(l.emotion ? [` · feeling ${l.emotion}`] : []))];
        if (l.value !== null) parts.push(h('p', { class: 'value' }, `${l.value}${t.unit ? ` ${t.unit}` : ''}`));
        if (l.note) parts.push(h('p', { class: 'note' }, l.note));
        if (l.event_date) parts.push(h('p', {}, `Reminder on ${l.event_date}${l.event_reminder_msg ? `: ${l.event_reminder_msg}` : ''}`));
        const edit = h('button', { type: 'button' }, 'Edit');
        edit.addEventListener('click', editForm);
        const del = confirmButton('Delete', 'Delete this log?', async () => {
          await api('DELETE', `${base}/logs/${l.id}`);
          await refresh();
          said.focus();
          said.textContent = 'Log deleted.';
        });
        li.replaceChildren(...parts, h('div', { class: 'actions' }, edit, del));
      };
      const editForm = () => {
        const f = makeForm(logFields(t, l), 'Save log', `log-${l.id}-`);
        onSubmit(f, async (v) => {
          const was = toLocalInput(l.logged_at);
          const { log } = await api<{ log: Log }>('PATCH', `${base}/logs/${l.id}`, {
            value: numerical ? num(v.value) : undefined,
            note: v.note,
            emotion: v.emotion,
            event_date: v.event_date,
            event_reminder_msg: v.event_reminder_msg,
            logged_at: v.logged_at === was ? undefined : fromLocalInput(v.logged_at),
          });
          l = log;
          said.textContent = 'Log saved.';
          await refresh();
          said.focus(); // the edited log's item is drawn anew
        });
        editInPlace(li, 'Edit log', f, view);
      };
      view();
      return li;
    };

    const said = h('p', { role: 'status', tabindex: '-1' });
    const add = makeForm(logFields(t), 'Add log', 'log-new-');
    onSubmit(add, async (v) => {
      await api('POST', `${base}/logs`, {
        value: numerical ? num(v.value) : undefined,
        note: v.note || undefined,
        emotion: v.emotion || undefined,
        event_date: v.event_date || undefined,
        event_reminder_msg: v.event_reminder_msg || undefined,
        logged_at: fromLocalInput(v.logged_at),
      });
      add.form.reset();
      said.textContent = 'Log added.';
      await refresh();
    });

    // The tracker itself: edit and delete.
    const editFields: Field[] = [{ name: 'name', label: 'Name', type: 'text', autocomplete: 'off', value: t.name }];
    if (numerical) {
      editFields.push(
        { name: 'unit', label: 'Unit', type: 'text', autocomplete: 'off', required: false, value: t.unit ?? '' },
        { name: 'what_to_track', label: 'What to track', type: 'text', autocomplete: 'off', required: false, value: t.what_to_track ?? '' },
      );
    }
    editFields.push({ name: 'description', label: 'Description', type: 'textarea', autocomplete: 'off', required: false, value: t.description });
    const edit = makeForm(editFields, 'Save tracker', 'tracker-');
    onSubmit(
      edit,
      async (v) => {
        ({ tracker: t } = await api<{ tracker: Tracker }>('PATCH', base, {
          name: v.name,
          description: v.description,
          ...(numerical ? { unit: v.unit, what_to_track: v.what_to_track } : {}),
        }));
        document.querySelector('h1')!.textContent = t.name;
        document.title = `${t.name} · homebase`;
        describe();
        said.textContent = 'Tracker saved.';
        void loadChart();
      },
      { CONFLICT: 'name' },
    );
    const del = confirmButton('Delete tracker', `Delete the tracker ${t.name} and all its logs?`, async () => {
      await api('DELETE', base);
      go('/trackers');
    });

    page(
      t.name,
      about,
      said,
      h('section', { 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h' }, 'Chart'), controls, chartAlert.el, figure, tableWrap),
      h('section', { 'aria-labelledby': 'logs-h' }, h('h2', { id: 'logs-h' }, 'Logs'), h('h3', {}, 'New log'), add.form, h('h3', {}, 'Logged'), ...logs.nodes),
      h('section', { 'aria-labelledby': 'edit-h' }, h('h2', { id: 'edit-h' }, 'Edit tracker'), edit.form, h('h3', {}, 'Delete tracker'), del),
      h('p', {}, link('/trackers', 'All trackers')),
    );
    await Promise.all([loadChart(), loadLogs(false)]);
  },
  { login: true },
);

function makeSelect(id: string, label: string, value: string, options: [string, string][]): { field: HTMLElement; select: HTMLSelectElement } {
  const select = h('select', { id }, ...options.map(([v, t]) => h('option', { value: v }, t)));
  select.value = value;
  if (select.value !== value) select.value = options[0][0];
  return { field: h('div', { class: 'field' }, h('label', { for: id }, label), select), select };
}

function bucketName(bucket: string, date: string): string {
  return bucket === 'month' ? date.slice(0, 7) : bucket === 'week' ? `week of ${date}` : date;
}

// The chart's numbers as a table: a row per bucket, "–" for an empty one's aggregates.
function seriesTable(t: Tracker, series: Bucket[], bucket: string, tz: string): HTMLTableElement {
  const cols: [keyof Bucket, string][] = t.type === 'numerical'
    ? [['count', 'Logs'], ['sum', 'Sum'], ['avg', 'Average'], ['min', 'Minimum'], ['max', 'Maximum']]
    : [['count', 'Logs']];
  const cell = (v: unknown) => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v));
  return h(
    'table',
    { class: 'series' },
    h('caption', {}, `${t.name} per ${bucket} (${tz})${t.unit && t.type === 'numerical' ? `, values in ${t.unit}` : ''}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, cap(bucket)), ...cols.map(([, name]) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, ...series.map((b) => h('tr', {}, h('th', { scope: 'row' }, bucketName(bucket, b.bucket)), ...cols.map(([k]) => h('td', {}, cell(b[k])))))),
  );
}
