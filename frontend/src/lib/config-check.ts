// Validation of the strategy config editor's JSON before it is sent. The API validates against
// the strategy class (and answers 422 with the field at fault); this catches what can be known
// locally: syntax, shape, and values whose JSON type differs from the current config's.

export interface ConfigCheck {
  value: Record<string, unknown> | null
  errors: string[]
  warnings: string[]
}

type JsonKind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object'

function kind(value: unknown): JsonKind {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value as JsonKind
}

export function checkConfig(text: string, current: Record<string, unknown>): ConfigCheck {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return { value: null, errors: [`not valid JSON: ${(err as Error).message}`], warnings: [] }
  }
  if (kind(parsed) !== 'object') {
    return { value: null, errors: ['the config must be a JSON object ({ "field": value, … })'], warnings: [] }
  }
  const value = parsed as Record<string, unknown>
  const errors: string[] = []
  const warnings: string[] = []
  for (const [key, next] of Object.entries(value)) {
    if (!(key in current)) {
      warnings.push(`"${key}" is a new field: the API rejects it if the strategy has no such setting`)
      continue
    }
    const was = kind(current[key])
    const now = kind(next)
    // Decimals may be written as numbers or strings ("0.05"); null is allowed for optional fields.
    const compatible =
      was === now || now === 'null' || was === 'null' || (was === 'string' && now === 'number') || (was === 'number' && now === 'string' && Number.isFinite(Number(next)))
    if (!compatible) errors.push(`"${key}" should be a ${was}, not a ${now}`)
  }
  for (const key of Object.keys(current)) {
    if (!(key in value)) warnings.push(`"${key}" is omitted: the strategy's default applies`)
  }
  return { value: errors.length ? null : value, errors, warnings }
}
