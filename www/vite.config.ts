// Two pages, built into dist/ and served by `usage-server serve --static www/dist`
// from the same origin as the API: the converter at / and the dashboard at /dashboard/.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        converter: resolve(import.meta.dirname, 'index.html'),
        dashboard: resolve(import.meta.dirname, 'dashboard/index.html'),
      },
    },
  },
  worker: { format: 'es' },
});
