// The monthly report (docs/api.md, "Tracking: reports, reminders and
// preferences") at /report?month=YYYY-MM, in the browser's time zone, with
// the reminders due (the logs whose reminder date is within the next week,
// past-due ones first).
import { api, ApiFailure } from '../api';
import { alertBox, go, link, onSubmit, page, route } from '../app';
import { h, makeForm } from '../dom';
import { browserZone, explain, today } from './tracking';

interface Report {
  month: string;
  total_trackers: number;
  total_logs: number;
  most_used_tracker: { id: number; name: string; count: number } | null;
  frequent_emotional_state: string | null;
  logs_created_this_month: number;
  logged_in: number;
}

interface Reminder {
  id: number;
  event_date: string;
  event_reminder_msg: string | null;
  note: string;
  tracker: { id: number; name: string };
}

route(
  '/report',
  async ({ query }) => {
    const month = query.get('month') || today().slice(0, 7);
    const tz = browserZone();
    const f = makeForm([{ name: 'month', label: 'Month', type: 'month', autocomplete: 'off', value: month }], 'Show report', 'report-');
    onSubmit(f, async (v) => {
      go(`/report?month=${encodeURIComponent(v.month)}`);
    });
    const out = h('div', { class: 'report' });
    const remindersBox = h('div');
    const remindersAlert = alertBox();
    page('Monthly report', f.form, out, h('h2', {}, 'Reminders due'), remindersAlert.el, remindersBox);

    const loadReport = async () => {
      try {
        const r = await api<Report>('GET', `/reports/monthly?month=${encodeURIComponent(month)}&tz=${encodeURIComponent(tz)}`);
        const row = (term: string, ...def: (string | Node)[]) => [h('dt', {}, term), h('dd', {}, ...def)];
        out.replaceChildren(
          h('h2', {}, `${r.month} (${tz})`),
          h(
            'dl',
            {},
            ...row('Trackers', String(r.total_trackers)),
            ...row('Logs dated this month', String(r.total_logs)),
            ...row('Logs written this month', String(r.logs_created_this_month)),
            ...row('Most used tracker', ...(r.most_used_tracker ? [link(`/trackers/${r.most_used_tracker.id}`, r.most_used_tracker.name), ` (${r.most_used_tracker.count} ${r.most_used_tracker.count === 1 ? 'log' : 'logs'})`] : ['none'])),
            ...row('Most frequent emotion', r.frequent_emotional_state ?? 'none'),
            ...row('Logins', String(r.logged_in)),
          ),
        );
      } catch (e) {
        if (!(e instanceof ApiFailure) || e.error.status !== 422) throw e;
        f.showError(e.error.details && 'month' in e.error.details ? e.error.message : explain(e), e.error.details);
      }
    };
    const loadReminders = async () => {
      try {
        const { reminders } = await api<{ reminders: Reminder[] }>('GET', '/reminders');
        const now = today();
        remindersBox.replaceChildren(
          h('p', {}, 'The reminders of your logs dated up to a week from today, and those past due.'),
          reminders.length
            ? h(
                'ul',
                { class: 'items' },
                ...reminders.map((r) =>
                  h(
                    'li',
                    {},
                    h('p', { class: 'meta' }, ...(r.event_date < now ? [h('span', { class: 'overdue' }, 'Past due'), ' · '] : []), r.event_date, ' · ', link(`/trackers/${r.tracker.id}`, r.tracker.name)),
                    h('p', { class: 'note' }, r.event_reminder_msg || r.note || '(no message)'),
                  ),
                ),
              )
            : h('p', {}, 'No reminders due.'),
        );
      } catch (e) {
        remindersAlert.show(e);
      }
    };
    await Promise.all([loadReport(), loadReminders()]);
  },
  { login: true },
);
