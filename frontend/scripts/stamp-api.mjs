// Records which schema files src/api/ was generated from (sha256 of each), so
// tests/ui/test_openapi_sync.py can tell when openapi.json changed but `npm run gen` was not run.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'

const sources = ['openapi.json', 'ws-messages.schema.json']
const stamp = Object.fromEntries(
  sources.map((name) => [name, createHash('sha256').update(readFileSync(name)).digest('hex')]),
)
writeFileSync('src/api/sources.json', JSON.stringify(stamp, null, 2) + '\n')
