// Positions, PnL and balances; reloaded (debounced) whenever one of our orders fills, since the
// state service updates positions from the same fills.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getBalances, getPnl, listPositions } from '../api/rest/sdk.gen'
import type { BalancesOut, PnlOut, PositionOut } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { debounce } from '../lib/debounce'
import { useConnectionStore } from './connection'

export const usePositionsStore = defineStore('positions', () => {
  const connection = useConnectionStore()
  const items = ref<PositionOut[]>([])
  const pnl = ref<PnlOut | null>(null)
  const balances = ref<BalancesOut | null>(null)
  const error = ref('')
  const loading = ref(false)

  // The state service writes the position a moment after the fill is published; a short delay
  // means the reload usually sees it, and the next fill or manual refresh catches any straggler.
  const reloadSoon = debounce(() => void load(), 400)

  connection.want('positions', ['events'])
  connection.on((message) => {
    if (message.type === 'fill' || (message.type === 'event' && message.event_type === 'order_filled')) reloadSoon()
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
