// Input of `npm run gen`: the committed openapi.json (exported from the FastAPI app by
// scripts/export_openapi.py), so generation needs no running server and is reproducible in CI.
import { defineConfig } from '@hey-api/openapi-ts'

export default defineConfig({
  input: './openapi.json',
  output: { path: './src/api/rest' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
})
