import { readFileSync } from 'node:fs'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

// The API serves the build at /ui (SPA fallback), so every asset URL must start there.
const BASE = '/ui/'
const API = process.env.POLYBOT_API_URL ?? 'http://127.0.0.1:8000'

// The dev server proxies every REST prefix the API declares, read from the committed schema so
// a new router is proxied without touching this file ('/markets/{id}/book' → '/markets').
function apiPrefixes(): string[] {
  const schema = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8')) as {
    paths: Record<string, unknown>
  }
  const prefixes = new Set(Object.keys(schema.paths).map((path) => '/' + path.split('/')[1]))
  return [...prefixes].sort()
}

const proxy: Record<string, { target: string; ws?: boolean; changeOrigin?: boolean }> = {
  '/ws': { target: API, ws: true },
  '/docs': { target: API },
  '/openapi.json': { target: API },
}
for (const prefix of apiPrefixes()) proxy[prefix] = { target: API }

export default defineConfig({
  base: BASE,
  plugins: [vue()],
  server: { port: 5173, strictPort: true, proxy },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  test: {
    // Pure logic runs in node; DOM tests opt in with `// @vitest-environment happy-dom`, which
    // keeps the run fast on two cores (a DOM per file costs seconds).
    environment: 'node',
    include: ['tests/unit/**/*.spec.ts'],
    // Two shared cores: one worker pool is enough and keeps the run predictable.
    pool: 'threads',
    maxWorkers: 2,
  },
})
