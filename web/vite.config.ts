import path from 'node:path';
import { defineConfig } from 'vite';

const here = import.meta.dirname;

// Vite 8 transforms TSX with Oxc itself; no React plugin needed (no Fast Refresh, full reloads instead).
export default defineConfig({
  root: here,
  envDir: here,
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: path.join(here, 'dist'), emptyOutDir: true },
});
