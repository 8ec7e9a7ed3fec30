// Goals (docs/api.md, "Tracking: goals"): the list with each goal's progress
// bar and a new goal at /goals; a goal at /goals/:id with its entries (add,
// edit, delete), its own edit and delete.
import { api } from '../api';
import { confirmButton, go, link, onSubmit, page, route } from '../app';
import { h, makeForm, type Field } from '../dom';
import { editInPlace, fromLocalInput, pagedList, num, toLocalInput, when } from './tracking';

interface Goal {
  id: number;
  title: string;
  description: string;
  target_amount: number | null;
  unit: string | null;
  due_date: string | null;
  created_at: string;
  completed_at: string | null;
  progress: number;
  percent: number | null;
}

interface Entry {
  id: number;
  goal_id: number;
  amount: number | null;
  note: string;
  occurred_at: string;
}

const amount = (n: number, unit: string | null) => `${n}${unit ? ` ${unit}` : ''}`;

// The goal's progress: a bar and its percent when it has a target (the bar
// stops at 100 %, the text does not), the sum alone when it has none.
function progress(g: Goal): HTMLElement {
  const box = h('div', { class: 'progress' });
  if (g.target_amount !== null && g.percent !== null) {
    const bar = h('progress', { max: '100', value: String(Math.max(0, Math.min(100, g.percent))), 'aria-label': `Progress of ${g.title}` });
    box.append(bar, h('p', { class: 'meta' }, `${g.percent} % · ${amount(g.progress, g.unit)} of ${amount(g.target_amount, g.unit)}`));
  } else {
    box.append(h('p', { class: 'meta' }, `${amount(g.progress, g.unit)} so far (no target)`));
  }
  const notes: (string | Node)[] = [];
  if (g.completed_at) notes.push('Reached ', when(g.completed_at));
  if (g.due_date) notes.push(`${notes.length ? ' · ' : ''}Due ${g.due_date}`);
  if (notes.length) box.append(h('p', { class: 'meta' }, ...notes));
  return box;
}

// The goal's fields, empty for a new goal, filled for an edit.
function goalFields(g?: Goal): Field[] {
  return [
    { name: 'title', label: 'Title', type: 'text', autocomplete: 'off', value: g?.title },
    { name: 'description', label: 'Description', type: 'textarea', autocomplete: 'off', required: false, value: g?.description },
    { name: 'target_amount', label: 'Target (optional)', type: 'number', step: 'any', autocomplete: 'off', required: false, value: g?.target_amount?.toString() },
    { name: 'unit', label: 'Unit', type: 'text', autocomplete: 'off', required: false, value: g?.unit ?? '' },
    { name: 'due_date', label: 'Due date', type: 'date', autocomplete: 'off', required: false, value: g?.due_date ?? '' },
  ];
}

route(
  '/goals',
  async () => {
    const { goals } = await api<{ goals: Goal[] }>('GET', '/goals');
    const list = goals.length
      ? h('ul', { class: 'items' }, ...goals.map((g) => h('li', {}, link(`/goals/${g.id}`, g.title), progress(g))))
      : h('p', {}, 'No goals yet: set your first one below.');
    const f = makeForm(goalFields(), 'Create goal', 'new-');
    onSubmit(f, async (v) => {
      const { goal } = await api<{ goal: Goal }>('POST', '/goals', {
        title: v.title,
        description: v.description || undefined,
        target_amount: num(v.target_amount),
        unit: v.unit || undefined,
        due_date: v.due_date || undefined,
      });
      go(`/goals/${goal.id}`);
    });
    page('Goals', list, h('h2', {}, 'New goal'), f.form);
  },
  { login: true },
);

route(
  '/goals/:id',
  async ({ params }) => {
    const base = `/goals/${encodeURIComponent(params.id)}`;
    let { goal: g } = await api<{ goal: Goal }>('GET', base);
    const head = h('div');
    const describe = () => head.replaceChildren(progress(g), ...(g.description ? [h('p', { class: 'note' }, g.description)] : []));
    describe();
    const said = h('p', { role: 'status', tabindex: '-1' });

    const entries = pagedList<Entry>(`${base}/entries?limit=20`, 'entries', (e) => entryItem(e), 'No entries yet.', 'Older entries');
    const loadEntries = entries.load;
    const refresh = async () => {
      ({ goal: g } = await api<{ goal: Goal }>('GET', base));
      describe();
      await loadEntries(false);
    };

    const entryFields = (e?: Entry): Field[] => [
      { name: 'amount', label: `Amount${g.unit ? ` (${g.unit})` : ''}`, type: 'number', step: 'any', autocomplete: 'off', required: false, value: e?.amount?.toString() },
      { name: 'note', label: 'Note', type: 'textarea', autocomplete: 'off', required: false, value: e?.note },
      { name: 'occurred_at', label: 'When (empty: now)', type: 'datetime-local', autocomplete: 'off', required: false, value: toLocalInput(e?.occurred_at ?? null) },
    ];

    const entryItem = (e: Entry): HTMLLIElement => {
      const li = h('li');
      const view = () => {
        const edit = h('button', { type: 'button' }, 'Edit');
        edit.addEventListener('click', editForm);
        const del = confirmButton('Delete', 'Delete this entry?', async () => {
          await api('DELETE', `${base}/entries/${e.id}`);
          await refresh();
          said.focus();
          said.textContent = 'Entry deleted.';
        });
        li.replaceChildren(
          h('p', { class: 'meta' }, when(e.occurred_at)),
          ...(e.amount !== null ? [h('p', { class: 'value' }, `${e.amount > 0 ? '+' : ''}${amount(e.amount, g.unit)}`)] : []),
          ...(e.note ? [h('p', { class: 'note' }, e.note)] : []),
          h('div', { class: 'actions' }, edit, del),
        );
      };
      const editForm = () => {
        const f = makeForm(entryFields(e), 'Save entry', `entry-${e.id}-`);
        onSubmit(f, async (v) => {
          const was = toLocalInput(e.occurred_at);
          ({ entry: e } = await api<{ entry: Entry }>('PATCH', `${base}/entries/${e.id}`, {
            amount: num(v.amount),
            note: v.note,
            occurred_at: v.occurred_at === was ? undefined : fromLocalInput(v.occurred_at),
          }));
          said.textContent = 'Entry saved.';
          await refresh();
          said.focus(); // the edited entry's item is drawn anew
        });
        editInPlace(li, 'Edit entry', f, view);
      };
      view();
      return li;
    };

    const add = makeForm(entryFields(), 'Add entry', 'entry-new-');
    onSubmit(add, async (v) => {
      await api('POST', `${base}/entries`, { amount: num(v.amount), note: v.note || undefined, occurred_at: fromLocalInput(v.occurred_at) });
      add.form.reset();
      said.textContent = 'Entry added.';
      await refresh();
    });

    const edit = makeForm(goalFields(g), 'Save goal', 'goal-');
    onSubmit(edit, async (v) => {
      ({ goal: g } = await api<{ goal: Goal }>('PATCH', base, {
        title: v.title,
        description: v.description,
        target_amount: num(v.target_amount),
        unit: v.unit,
        due_date: v.due_date,
      }));
      document.querySelector('h1')!.textContent = g.title;
      document.title = `${g.title} · homebase`;
      describe();
      said.textContent = 'Goal saved.';
      await loadEntries(false);
    });
    const del = confirmButton('Delete goal', `Delete the goal ${g.title} and all its entries?`, async () => {
      await api('DELETE', base);
      go('/goals');
    });

    page(
      g.title,
      head,
      said,
      h('section', { 'aria-labelledby': 'entries-h' }, h('h2', { id: 'entries-h' }, 'Entries'), h('h3', {}, 'New entry'), add.form, h('h3', {}, 'Entered'), ...entries.nodes),
      h('section', { 'aria-labelledby': 'edit-h' }, h('h2', { id: 'edit-h' }, 'Edit goal'), edit.form, h('h3', {}, 'Delete goal'), del),
      h('p', {}, link('/goals', 'All goals')),
    );
    await loadEntries(false);
  },
  { login: true },
);
