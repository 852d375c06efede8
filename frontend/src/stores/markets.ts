// Markets: search results, live mids of every token (prices channel), and for the selected market
// its live book (REST seed + books channel) and a price series (recorded history + live mids).
import { defineStore } from 'pinia'
import { computed, reactive, ref, shallowRef } from 'vue'
import { getBook, getMarket, getPriceHistory, listMarkets } from '../api/rest/sdk.gen'
import type { MarketOut } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { applyDelta, fromRest, fromSnapshot, type LocalBook } from '../lib/book'
import { useConnectionStore } from './connection'

export interface Quote {
  bid: number | null // null until a live price arrives (the market list only carries mids)
  ask: number | null
  mid: number
  ts: number
}

export interface SeriesPoint {
  t: number // epoch ms
  v: number
}

export type Outcome = 'yes' | 'no'
const MAX_POINTS = 600

export const useMarketsStore = defineStore('markets', () => {
  const connection = useConnectionStore()
  const items = ref<MarketOut[]>([])
  const total = ref(0)
  const query = ref('')
  const loading = ref(false)
  const error = ref('')
  const quotes = reactive<Record<string, Quote>>({})
  const selected = ref<MarketOut | null>(null)
  const outcome = ref<Outcome>('yes')
  const book = shallowRef<LocalBook | null>(null)
  const bookError = ref('')
  const series = shallowRef<SeriesPoint[]>([])

  const selectedToken = computed(() =>
    selected.value ? (outcome.value === 'yes' ? selected.value.yes_token_id : selected.value.no_token_id) : null,
  )

  connection.want('markets', ['prices', 'books'])
  connection.on((message) => {
    if (message.type === 'price') {
      quotes[message.token_id] = { bid: message.bid, ask: message.ask, mid: message.mid, ts: message.timestamp }
      if (message.token_id === selectedToken.value) appendPoint(message.timestamp, message.mid)
    } else if (message.type === 'book' && message.token_id === selectedToken.value) {
      book.value = fromSnapshot(message)
      quoteFromBook(book.value)
    } else if (message.type === 'book_delta' && book.value && message.token_id === book.value.tokenId) {
      book.value = applyDelta(book.value, message)
      quoteFromBook(book.value)
    }
  })

  // Prices are only published when the top of book moves; the live book of the shown token keeps
  // its bid/ask current in between (mid stays the scanner's when it has sent one).
  function quoteFromBook(b: LocalBook): void {
    const bid = b.bids[0]?.price ?? null
    const ask = b.asks[0]?.price ?? null
    const known = quotes[b.tokenId]
    const mid = known?.ts ? known.mid : bid !== null && ask !== null ? (bid + ask) / 2 : (known?.mid ?? NaN)
    quotes[b.tokenId] = { bid, ask, mid, ts: known?.ts ?? 0 }
  }

  function appendPoint(t: number, v: number): void {
    const last = series.value[series.value.length - 1]
    if (last && last.t > t) return
    // A new array (not push) so the shallowRef notifies the chart.
    series.value = [...series.value.slice(-(MAX_POINTS - 1)), { t, v }]
  }

  async function search(text = query.value): Promise<void> {
    query.value = text
    loading.value = true
    error.value = ''
    try {
      const page = await unwrap(listMarkets({ query: { q: text || undefined, limit: 100 } }))
      items.value = page.items
      total.value = page.total
      for (const m of page.items) seedQuote(m)
    } catch (err) {
      error.value = errorText(err)
    } finally {
      loading.value = false
    }
  }

  function seedQuote(m: MarketOut): void {
    // The list carries the API's latest mids; live prices overwrite them as they arrive.
    if (m.yes_mid !== null && m.yes_mid !== undefined && !quotes[m.yes_token_id]) quotes[m.yes_token_id] = { bid: null, ask: null, mid: m.yes_mid, ts: 0 }
    if (m.no_mid !== null && m.no_mid !== undefined && !quotes[m.no_token_id]) quotes[m.no_token_id] = { bid: null, ask: null, mid: m.no_mid, ts: 0 }
  }

  async function select(marketId: string, which: Outcome = outcome.value): Promise<void> {
    error.value = ''
    try {
      const found = items.value.find((m) => m.market_id === marketId)
      selected.value = found ?? (await unwrap(getMarket({ path: { market_id: marketId } })))
      outcome.value = which
      await Promise.all([loadBook(), loadHistory()])
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function setOutcome(which: Outcome): Promise<void> {
    if (selected.value) await select(selected.value.market_id, which)
  }

  async function loadBook(): Promise<void> {
    const market = selected.value
    const token = selectedToken.value
    book.value = null
    bookError.value = ''
    if (!market || !token) return
    try {
      const seed = fromRest(await unwrap(getBook({ path: { market_id: market.market_id }, query: { token_id: token } })))
      // A live snapshot may have arrived while the request was in flight: keep the newer one.
      if (!book.value || (book.value as LocalBook).timestampMs < seed.timestampMs) book.value = seed
    } catch (err) {
      bookError.value = errorText(err) // e.g. 404/503 before the scanner published this token
    }
  }

  async function loadHistory(hours = 6): Promise<void> {
    const market = selected.value
    const token = selectedToken.value
    series.value = []
    if (!market || !token) return
    try {
      const history = await unwrap(getPriceHistory({ path: { market_id: market.market_id }, query: { token_id: token, hours } }))
      const points = history.points.map((p) => ({ t: Date.parse(p.ts), v: p.mid }))
      series.value = [...points, ...series.value].slice(-MAX_POINTS)
    } catch {
      // History comes from the analytics service; without it the chart still fills from live mids.
    }
  }

  return { items, total, query, loading, error, quotes, selected, outcome, book, bookError, series, selectedToken, search, select, setOutcome, loadBook, loadHistory }
})
