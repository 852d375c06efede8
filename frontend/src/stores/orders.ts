// Our orders: the list from REST, patched live from `order_update` messages and reloaded when the
// executor announces an order's life event; placing and cancelling go through the API (auth).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { cancelAllOrders, cancelOrder, listOrders, placeOrder } from '../api/rest/sdk.gen'
import type { OrderOut, OrderPlacement, PlaceOrderRequest } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { debounce } from '../lib/debounce'
import { useConnectionStore } from './connection'

export type StatusFilter = 'open' | 'all'
const FINAL = new Set(['MATCHED', 'CANCELED', 'REJECTED', 'FAILED'])

export const useOrdersStore = defineStore('orders', () => {
  const connection = useConnectionStore()
  const items = ref<OrderOut[]>([])
  const filter = ref<StatusFilter>('all')
  const loading = ref(false)
  const error = ref('')
  const lastPlacement = ref<OrderPlacement | null>(null)
  const placing = ref(false)

  const reloadSoon = debounce(() => void load(), 250)

  connection.want('orders', ['events'])
  connection.on((message) => {
    if (message.type === 'order_update') {
      const row = items.value.find((o) => o.client_order_id === message.client_order_id)
      if (row) {
        // Patch in place for instant feedback; the reload below brings fees/avg price.
        row.status = message.status
        row.size_matched = String(message.size_matched)
        if (message.order_id) row.venue_order_id = message.order_id
        if (filter.value === 'open' && FINAL.has(message.status)) items.value = items.value.filter((o) => o !== row)
      }
      reloadSoon()
    } else if (message.type === 'fill' || (message.type === 'event' && message.event_type.startsWith('order_'))) {
      reloadSoon()
    }
  })

  async function load(): Promise<void> {
    loading.value = true
    try {
      items.value = await unwrap(listOrders({ query: { status: filter.value, limit: 500 } }))
      error.value = ''
    } catch (err) {
      error.value = errorText(err)
    } finally {
      loading.value = false
    }
  }

  async function setFilter(next: StatusFilter): Promise<void> {
    filter.value = next
    await load()
  }

  /** Place an order; resolves with the executor's verdict (accepted or the refusal's reason). */
  async function place(request: PlaceOrderRequest): Promise<OrderPlacement> {
    placing.value = true
    try {
      const verdict = await unwrap(placeOrder({ body: request }))
      lastPlacement.value = verdict
      reloadSoon()
      return verdict
    } finally {
      placing.value = false
    }
  }

  async function cancel(clientOrderId: string): Promise<void> {
    error.value = ''
    try {
      await unwrap(cancelOrder({ path: { client_order_id: clientOrderId } }))
      reloadSoon()
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function cancelAll(): Promise<void> {
    error.value = ''
    try {
      await unwrap(cancelAllOrders({ body: { strategy: '', market_id: '' } }))
      reloadSoon()
    } catch (err) {
      error.value = errorText(err)
    }
  }

  return { items, filter, loading, error, lastPlacement, placing, load, setFilter, place, cancel, cancelAll }
})
