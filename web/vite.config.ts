import { defineConfig } from 'vite';

// The build goes to dist/ (served by the gateway with WEB_DIR, docs/web.md):
// hashed file names under assets/, which the gateway caches for a year.
export default defineConfig({
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true },
});
