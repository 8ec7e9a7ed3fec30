// The web client's entry (docs/web.md): the frame (app.ts) and the page
// modules, each of which adds its routes; then the first page is shown.
import './style.css';
import { render } from './app';
import './pages/auth';
import './pages/settings';
import './pages/admin';
import './pages/trackers';
import './pages/goals';
import './pages/report';
import './pages/blog';
import './pages/feed';

void render();
