// Positions, PnL and balances; reloaded (debounced) whenever a fill, a settlement or a reversed
// fill changes them (lib/position-events), so the page never shows a settled position as open.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getBalances, getPnl, listPositions } from '../api/rest/sdk.gen'
import type { BalancesOut, PnlOut, PositionOut } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { debounce } from '../lib/debounce'
import { changesPositions } from '../lib/position-events'
import { useConnectionStore } from './connection'

export const usePositionsStore = defineStore('positions', () => {
  const connection = useConnectionStore()
  const items = ref<PositionOut[]>([])
  const pnl = ref<PnlOut | null>(null)
  const balances = ref<BalancesOut | null>(null)
  const error = ref('')
  const loading = ref(false)

  // One resolution settles every position in its market at once: the debounce turns that burst
  // (or a sweep's ten fills) into one reload; the next event or a manual refresh catches stragglers.
  const reloadSoon = debounce(() => void load(), 400)

  connection.want('positions', ['events'])
  connection.on((message) => {
    if (changesPositions(message)) reloadSoon()
  })

  async function load(): Promise<void> {
    loading.value = true
    try {
      const [positions, totals] = await Promise.all([unwrap(listPositions()), unwrap(getPnl())])
      items.value = positions
      pnl.value = totals
      error.value = ''
    } catch (err) {
      error.value = errorText(err)
    } finally {
      loading.value = false
    }
    try {
      balances.value = await unwrap(getBalances())
    } catch {
      balances.value = null // balances need the state service; positions above do not
    }
  }

  return { items, pnl, balances, error, loading, load }
})
