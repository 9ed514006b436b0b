import path from 'node:path';
import { defineConfig } from 'vite';

const here = import.meta.dirname;

/** The gateway's offline IDE: built into dist/graphiql, served by the gateway at /graphiql/ outside production. */
export default defineConfig({
  root: here,
  base: '/graphiql/',
  oxc: { jsx: { runtime: 'automatic' } },
  // Monaco's workers import modules of their own, which only ES-module workers can.
  worker: { format: 'es' },
  build: {
    outDir: path.join(here, '..', '..', 'dist', 'graphiql'),
    emptyOutDir: true,
    // Monaco is big, and the page is for development on loopback.
    chunkSizeWarningLimit: 8_000,
    rolldownOptions: {
      // React's "use client" markers mean nothing without server components.
      onwarn: (warning, warn) => (warning.code === 'MODULE_LEVEL_DIRECTIVE' ? undefined : warn(warning)),
    },
  },
});
