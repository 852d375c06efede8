// Display helpers. Money and sizes arrive from the API as exact decimal strings; they are only
// converted to numbers for display, never for arithmetic that is sent back.

export function num(value: string | number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || value === '') return '—'
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isFinite(n)) return String(value)
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function price(value: number | string | null | undefined): string {
  return num(value, 3)
}

export function signed(value: string | number | null | undefined, digits = 2): string {
  const text = num(value, digits)
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? `+${text}` : text
}

export function time(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  const d = typeof ms === 'number' ? new Date(ms) : new Date(ms)
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().slice(11, 19)
}

export function shortId(id: string, keep = 10): string {
  return id.length > keep + 1 ? `${id.slice(0, keep)}…` : id
}
