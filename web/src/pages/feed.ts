// The activity feed (docs/api.md, "Publishing: activity feed"): the home
// feed with "Older" paging and a form to post, a thread (an activity, its
// replies, a form to reply), a user's page; on each activity reply, like,
// repost and delete (its author's, after a second button confirms it).
// Reading needs no login; the forms and buttons that write show only to a
// logged-in person.
import './feed.css';
import { api, ApiFailure } from '../api';
import { alertBox, confirmButton, go, link, me, onSubmit, page, route, status } from '../app';
import { h, makeForm } from '../dom';

interface Activity {
  uuid: string;
  message: string;
  author: { handle: string; display_name: string | null };
  replies_count: number;
  reposts_count: number;
  likes_count: number;
  reply_to_activity_uuid: string | null;
  expires_at: string | null;
  created_at: string;
}
type List = { activities: Activity[]; next: string | null };

// Whether the person liked or reposted an activity: the API's activity JSON
// does not say, so a button's state is what this tab's own actions set
// (docs/web.md), kept in memory only, per account.
const liked = new Map<string, boolean>();
const reposted = new Map<string, boolean>();
const key = (uuid: string) => `${me?.username ?? ''}\n${uuid}`;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const when = (ts: string) => h('time', { datetime: ts }, new Date(ts).toLocaleString());

// One activity as an <article>, with its counts and buttons; its counts are
// refreshed from the API's answers after each action. onDeleted runs once it
// is deleted.
interface View {
  el: HTMLElement;
  update(a: Activity): void; // shows the counts of a fresher copy
}
function activityView(a: Activity, opts: { onDeleted: (a: Activity) => void; onChanged?: (a: Activity) => void; inThread?: boolean; underParent?: boolean }): View {
  const article = h('article', { class: 'activity' });
  const name = a.author.display_name || a.author.handle;
  const head = h('p', { class: 'activity-head' }, h('strong', {}, name), ' ', link(`/users/${encodeURIComponent(a.author.handle)}`, '@' + a.author.handle), ' · ', when(a.created_at));
  const message = h('p', { class: 'message' }, a.message);
  article.append(head);
  if (a.reply_to_activity_uuid && !opts.underParent) article.append(h('p', { class: 'meta' }, link(`/feed/${a.reply_to_activity_uuid}`, 'In reply to an activity')));
  article.append(message);
  if (a.expires_at) article.append(h('p', { class: 'meta' }, 'Expires ', when(a.expires_at)));

  const counts = h('p', { class: 'counts' });
  const showCounts = (x: Activity) => {
    counts.replaceChildren(
      opts.inThread ? h('span', {}, plural(x.replies_count, 'reply', 'replies')) : link(`/feed/${x.uuid}`, plural(x.replies_count, 'reply', 'replies')),
      ' · ',
      h('span', {}, plural(x.likes_count, 'like', 'likes')),
      ' · ',
      h('span', {}, plural(x.reposts_count, 'repost', 'reposts')),
    );
  };
  showCounts(a);
  article.append(counts);

  const view = {
    el: article,
    update(x: Activity) {
      a = x;
      showCounts(x);
    },
  };
  if (!me) return view;
  const alert = alertBox();
  const refresh = async () => {
    const { activity } = await api<{ activity: Activity }>('GET', `/activities/${a.uuid}`);
    view.update(activity);
    opts.onChanged?.(activity);
  };
  const toggle = (label: string, state: Map<string, boolean>, on: () => Promise<void>, off: () => Promise<void>) => {
    const b = h('button', { type: 'button', 'aria-pressed': String(state.get(key(a.uuid)) ?? false) }, label);
    let busy = false; // not disabled while busy: that would take the focus away
    b.addEventListener('click', async () => {
      if (busy) return;
      busy = true;
      alert.clear();
      const pressed = b.getAttribute('aria-pressed') === 'true';
      try {
        await (pressed ? off() : on());
        state.set(key(a.uuid), !pressed);
        b.setAttribute('aria-pressed', String(!pressed));
        await refresh();
      } catch (e) {
        alert.show(e);
      } finally {
        busy = false;
      }
    });
    return b;
  };
  const like = toggle(
    'Like',
    liked,
    () => api('PUT', `/activities/${a.uuid}/like`),
    () => api('DELETE', `/activities/${a.uuid}/like`),
  );
  const repost = toggle(
    'Repost',
    reposted,
    async () => {
      try {
        await api('POST', `/activities/${a.uuid}/reposts`);
      } catch (e) {
        // 409: reposted before (in another tab or visit): pressed all the same.
        if (!(e instanceof ApiFailure && e.error.status === 409)) throw e;
      }
    },
    () => api('DELETE', `/activities/${a.uuid}/reposts`),
  );
  // In its own thread, the reply form is on the page already.
  const actions = h('div', { class: 'actions' }, ...(opts.inThread ? [] : [link(`/feed/${a.uuid}`, 'Reply')]), like, repost);

  if (me.username.toLowerCase() === a.author.handle.toLowerCase()) {
    const question = a.replies_count ? 'Delete this activity and its replies?' : 'Delete this activity?';
    actions.append(
      confirmButton('Delete', question, async () => {
        await api('DELETE', `/activities/${a.uuid}`);
        opts.onDeleted(a);
      }),
    );
  }
  article.append(actions, alert.el);
  return view;
}

// A list of activities, with a status line that says what changed.
function activityList(items: Activity[], empty: string, opts: { onRemoved?: () => void; underParent?: boolean } = {}) {
  const list = h('ul', { class: 'activities' });
  const note = status(items.length ? '' : empty);
  const add = (a: Activity, first = false) => {
    const li = h('li', {});
    li.append(
      activityView(a, {
        underParent: opts.underParent,
        onDeleted: () => {
          li.remove();
          note.textContent = 'Deleted.';
          opts.onRemoved?.();
        },
      }).el,
    );
    if (first) list.prepend(li);
    else list.append(li);
  };
  for (const a of items) add(a);
  return { list, note, add };
}

function paging(base: string, before: string | null, next: string | null, newest: string): Node[] {
  const p = h('p', { class: 'paging' });
  if (before) p.append(link(base, newest));
  if (next) p.append(link(`${base}?before=${encodeURIComponent(next)}`, 'Older'));
  return p.childNodes.length ? [h('nav', { 'aria-label': 'Pages' }, p)] : [];
}

route('/feed', async ({ query }) => {
  const before = query.get('before');
  const { activities, next } = await api<List>('GET', '/activities' + (before ? '?before=' + encodeURIComponent(before) : ''));
  const shown = activityList(activities, before ? 'No older activities.' : 'Nothing posted yet.');
  const parts: Node[] = [];
  if (me && !before) {
    const f = makeForm(
      [
        { name: 'message', label: 'Message', type: 'textarea', autocomplete: 'off' },
        { name: 'expires_at', label: 'Expires (optional)', type: 'datetime-local', autocomplete: 'off', required: false },
      ],
      'Post',
    );
    f.form.classList.add('post-form');
    onSubmit(f, async (v) => {
      const body: Record<string, string> = { message: v.message };
      // datetime-local is the browser's local time: sent as RFC 3339 in UTC.
      if (v.expires_at) {
        const t = new Date(v.expires_at);
        body.expires_at = isNaN(t.getTime()) ? v.expires_at : t.toISOString();
      }
      const { activity } = await api<{ activity: Activity }>('POST', '/activities', body);
      f.form.reset();
      shown.add(activity, true);
      shown.note.textContent = 'Posted.';
      f.form.querySelector('textarea')?.focus(); // ready for the next one
    });
    parts.push(f.form);
  } else if (!me) {
    parts.push(h('p', {}, link('/login?next=/feed', 'Log in'), ' to post.'));
  }
  page('Feed', ...parts, h('h2', {}, before ? 'Older activities' : 'Latest'), shown.note, shown.list, ...paging('/feed', before, next, 'Newest'));
});

route('/feed/:uuid', async ({ params }) => {
  const uuid = params.uuid;
  const [{ activity }, replies] = await Promise.all([
    api<{ activity: Activity }>('GET', `/activities/${encodeURIComponent(uuid)}`),
    api<{ replies: Activity[]; next: string | null }>('GET', `/activities/${encodeURIComponent(uuid)}/replies`),
  ]);
  let next = replies.next;
  const repliesHeading = h('h2', {}, plural(activity.replies_count, 'reply', 'replies'));
  const setHeading = (a: Activity) => (repliesHeading.textContent = plural(a.replies_count, 'reply', 'replies'));
  const root = activityView(activity, {
    inThread: true,
    onChanged: setHeading,
    onDeleted: (a: Activity) => go(a.reply_to_activity_uuid ? `/feed/${a.reply_to_activity_uuid}` : '/feed', true),
  });
  // A reply added or deleted here changes the root's count: read again.
  const refreshRoot = async () => {
    const fresh = (await api<{ activity: Activity }>('GET', `/activities/${encodeURIComponent(uuid)}`)).activity;
    setHeading(fresh);
    root.update(fresh);
  };
  const shown = activityList(replies.replies, 'No replies yet.', { underParent: true, onRemoved: () => void refreshRoot().catch(() => {}) });
  const more = h('button', { type: 'button' }, 'More replies');
  const moreAlert = alertBox();
  more.hidden = !next;
  more.addEventListener('click', async () => {
    moreAlert.clear();
    try {
      const page2 = await api<{ replies: Activity[]; next: string | null }>('GET', `/activities/${encodeURIComponent(uuid)}/replies?before=${encodeURIComponent(next ?? '')}`);
      for (const r of page2.replies) shown.add(r);
      next = page2.next;
      more.hidden = !next;
    } catch (e) {
      moreAlert.show(e);
    }
  });
  const parts: Node[] = [root.el];
  if (me) {
    const f = makeForm([{ name: 'message', label: 'Your reply', type: 'textarea', autocomplete: 'off' }], 'Reply');
    f.form.classList.add('post-form');
    onSubmit(f, async (v) => {
      const { activity: reply } = await api<{ activity: Activity }>('POST', `/activities/${encodeURIComponent(uuid)}/replies`, { message: v.message });
      f.form.reset();
      f.form.querySelector('textarea')?.focus();
      if (!next) shown.add(reply);
      shown.note.textContent = next ? 'Replied: your reply is at the end of the thread.' : 'Replied.';
      await refreshRoot();
    });
    parts.push(f.form);
  } else {
    parts.push(h('p', {}, link(`/login?next=/feed/${encodeURIComponent(uuid)}`, 'Log in'), ' to reply.'));
  }
  page('Thread', ...parts, repliesHeading, shown.note, shown.list, more, moreAlert.el, h('p', {}, link('/feed', 'Back to the feed')));
});

route('/users/:handle', async ({ params, query }) => {
  const handle = params.handle;
  const before = query.get('before');
  const base = `/users/${encodeURIComponent(handle)}`;
  const { activities, next } = await api<List>('GET', `${base}/activities` + (before ? '?before=' + encodeURIComponent(before) : ''));
  const shown = activityList(activities, before ? 'No older activities.' : 'Nothing posted yet.');
  const name = activities[0]?.author.display_name;
  page('@' + handle, ...(name ? [h('p', {}, name)] : []), shown.note, shown.list, ...paging(base, before, next, 'Newest'));
});
