// Builds the web UI into dist/, which package ui embeds in the tarn
// binary. The output depends on the sources and package-lock.json only
// (no source maps, no times, content-hashed names), so scripts/ui.sh check
// can rebuild it and compare.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 800,
    modulePreload: { polyfill: false },
  },
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.{js,jsx}'],
  },
});
