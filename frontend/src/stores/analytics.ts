// Analytics: headline summary, realized PnL per day, OHLC of a token, and correlations. These come
// from SQLite and the analytics service; each part fails on its own so one missing service does
// not blank the page.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getCorrelations, getOhlc, getPnlByDay, getSummary } from '../api/rest/sdk.gen'
import type { AnalyticsSummary, Correlation, OhlcBar, PnlDay } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'

export const useAnalyticsStore = defineStore('analytics', () => {
  const summary = ref<AnalyticsSummary | null>(null)
  const pnlDays = ref<PnlDay[]>([])
  const ohlc = ref<OhlcBar[]>([])
  const correlations = ref<Correlation[]>([])
  const errors = ref<Record<string, string>>({})

  async function part<T>(name: string, call: () => Promise<T>, assign: (value: T) => void): Promise<void> {
    try {
      assign(await call())
      delete errors.value[name]
    } catch (err) {
      errors.value[name] = errorText(err)
    }
  }

  function loadSummary(): Promise<void> {
    return part('summary', () => unwrap(getSummary()), (v) => (summary.value = v))
  }

  async function loadAll(days = 30): Promise<void> {
    await Promise.all([
      loadSummary(),
      part('pnl', () => unwrap(getPnlByDay({ query: { days } })), (v) => (pnlDays.value = v)),
      part('correlations', () => unwrap(getCorrelations({ query: { limit: 20 } })), (v) => (correlations.value = v)),
    ])
  }

  function loadOhlc(tokenId: string, intervalS = 60, hours = 24): Promise<void> {
    return part('ohlc', () => unwrap(getOhlc({ query: { token_id: tokenId, interval_s: intervalS, hours } })), (v) => (ohlc.value = v))
  }

  /** Cumulative realized PnL across strategies, one point per day (for the equity-style chart). */
  function cumulativePnl(): { t: number; v: number }[] {
    const byDay = new Map<string, number>()
    for (const d of pnlDays.value) byDay.set(d.day, (byDay.get(d.day) ?? 0) + Number(d.realized_pnl))
    let running = 0
    return [...byDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, v]) => ({ t: Date.parse(day), v: (running += v) }))
  }

  return { summary, pnlDays, ohlc, correlations, errors, loadSummary, loadAll, loadOhlc, cumulativePnl }
})
