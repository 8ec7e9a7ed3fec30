// The blog (docs/api.md, "Publishing: posts"): the list with "Older posts"
// paging, a post's page with its Markdown rendered, and for authors and
// admins the pages to write and edit a post, and deleting one (after a
// second button confirms it).
import './blog.css';
import { api } from '../api';
import { confirmButton, go, link, me, onSubmit, page, route } from '../app';
import { h, makeForm } from '../dom';

interface Post {
  id: number;
  title: string;
  excerpt: string;
  author: { username: string; display_name: string | null };
  date: string;
  updated_at: string;
  content?: string;
}

const canWrite = (): boolean => me?.role === 'author' || me?.role === 'admin';
const canChange = (p: Post): boolean => me?.role === 'admin' || (!!me && me.username === p.author.username);

function byline(p: Post): HTMLParagraphElement {
  const when = h('time', { datetime: p.date }, new Date(p.date).toLocaleDateString());
  const line = h('p', { class: 'byline' }, `by ${p.author.display_name || p.author.username} on `, when);
  if (p.updated_at !== p.date) line.append(` (updated ${new Date(p.updated_at).toLocaleDateString()})`);
  return line;
}

route('/blog', async ({ query }) => {
  const before = query.get('before');
  const q = new URLSearchParams();
  if (before) q.set('before', before);
  const { posts, next } = await api<{ posts: Post[]; next: string | null }>('GET', '/posts' + (before ? '?' + q : ''));
  const parts: Node[] = [];
  if (canWrite()) parts.push(h('p', {}, link('/blog/new', 'Write a post')));
  if (posts.length === 0) parts.push(h('p', {}, before ? 'No older posts.' : 'No posts yet.'));
  else {
    const list = h('ul', { class: 'posts' });
    for (const p of posts) {
      list.append(h('li', {}, h('article', {}, h('h2', {}, link(`/blog/${p.id}`, p.title)), byline(p), h('p', {}, p.excerpt))));
    }
    parts.push(list);
  }
  const paging = h('p', { class: 'paging' });
  if (before) paging.append(link('/blog', 'Newest posts'));
  if (next) paging.append(link('/blog?before=' + encodeURIComponent(next), 'Older posts'));
  if (paging.childNodes.length) parts.push(h('nav', { 'aria-label': 'Pages of the blog' }, paging));
  page('Blog', ...parts);
});

// Markdown to HTML with raw HTML off: markdown-it escapes every tag typed in
// a post, and its validateLink (made stricter here) drops a link or image
// whose address is not http(s), mailto or relative, so no javascript: URL
// reaches an href. Loaded on demand, so the first load carries none of it.
async function renderMarkdown(target: HTMLElement, content: string): Promise<void> {
  const { default: MarkdownIt } = await import('markdown-it');
  const md = new MarkdownIt({ html: false, linkify: false });
  const validate = md.validateLink.bind(md);
  md.validateLink = (url: string) => {
    const u = url.trim().toLowerCase();
    return validate(url) && (/^(https?:|mailto:)/.test(u) || !/^[a-z][a-z0-9+.-]*:/.test(u));
  };
  // The page's <h1> is the post's title: a post's headings start at <h2>.
  md.core.ruler.push('shift_headings', (state) => {
    for (const t of state.tokens) {
      if (t.type === 'heading_open' || t.type === 'heading_close') t.tag = 'h' + Math.min(6, Number(t.tag.slice(1)) + 1);
    }
  });
  // The one innerHTML of the app: the output of markdown-it with html off,
  // which escapes every character of the post that could make markup.
  target.innerHTML = md.render(content);
}

route('/blog/new', () => {
  if (!canWrite()) {
    page('Write a post', h('p', {}, 'Only authors and admins write posts.'), h('p', {}, link('/blog', 'Back to the blog')));
    return;
  }
  const f = makeForm(postFields(), 'Publish');
  onSubmit(f, async (v) => {
    const body: Record<string, string> = { title: v.title, content: v.content };
    if (v.excerpt.trim()) body.excerpt = v.excerpt;
    const { post } = await api<{ post: Post }>('POST', '/posts', body);
    go(`/blog/${post.id}`);
  });
  page('Write a post', f.form);
}, { login: true });

function postFields(p?: Post) {
  return [
    { name: 'title', label: 'Title', type: 'text', autocomplete: 'off', value: p?.title },
    { name: 'excerpt', label: 'Excerpt (optional: the start of the post otherwise)', type: 'text', autocomplete: 'off', value: p?.excerpt, required: false },
    { name: 'content', label: 'Content (Markdown)', type: 'textarea', autocomplete: 'off', value: p?.content },
  ];
}

route('/blog/:id', async ({ params }) => {
  const { post } = await api<{ post: Post }>('GET', `/posts/${encodeURIComponent(params.id)}`);
  const body = h('div', { class: 'post-body' });
  const parts: Node[] = [byline(post), body];
  if (canChange(post)) parts.push(changeControls(post));
  parts.push(h('p', {}, link('/blog', 'All posts')));
  page(post.title, ...parts);
  await renderMarkdown(body, post.content ?? '');
});

function changeControls(post: Post): HTMLElement {
  const del = confirmButton('Delete', 'Delete this post for good?', async () => {
    await api('DELETE', `/posts/${post.id}`);
    go('/blog', true);
  });
  return h('div', { class: 'post-actions' }, link(`/blog/${post.id}/edit`, 'Edit'), ' ', del);
}

route('/blog/:id/edit', async ({ params }) => {
  const { post } = await api<{ post: Post }>('GET', `/posts/${encodeURIComponent(params.id)}`);
  if (!canChange(post)) {
    page('Edit post', h('p', {}, 'Only the post\u2019s author or an admin changes it.'), h('p', {}, link(`/blog/${post.id}`, post.title)));
    return;
  }
  const f = makeForm(postFields(post), 'Save');
  onSubmit(f, async (v) => {
    const body: Record<string, string> = {};
    if (v.title !== post.title) body.title = v.title;
    if (v.content !== post.content) body.content = v.content;
    // Sent only when changed: the excerpt shown may be the default one,
    // which must follow a new content rather than stay as it was.
    if (v.excerpt !== post.excerpt) body.excerpt = v.excerpt;
    await api('PATCH', `/posts/${post.id}`, body);
    go(`/blog/${post.id}`);
  });
  page('Edit post', f.form, h('p', {}, link(`/blog/${post.id}`, 'Back to the post')));
}, { login: true });
