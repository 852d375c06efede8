// The stack itself: service health (GET /health), effective settings, and a ring buffer of recent
// events from the executor and runner for the overview page.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getHealth, getSettings } from '../api/rest/sdk.gen'
import type { HealthOut } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import type { ChannelMessage } from '../lib/protocol'
import { useConnectionStore } from './connection'

export interface RecentEvent {
  id: number
  ts: number
  kind: string // event_type, or the message type for order updates and fills
  source: string
  text: string
}

const MAX_EVENTS = 100
const DASHBOARDS_KEY = 'polybot.dashboards_url'

export const useSystemStore = defineStore('system', () => {
  const connection = useConnectionStore()
  const health = ref<HealthOut | null>(null)
  const settings = ref<Record<string, unknown> | null>(null)
  const error = ref('')
  const events = ref<RecentEvent[]>([])
  // `polybot dashboards` serves Voila on its own port; 8866 is Voila's default.
  const dashboardsUrl = ref(localStorage.getItem(DASHBOARDS_KEY) ?? `http://${location.hostname || '127.0.0.1'}:8866`)
  let nextId = 1

  connection.want('system', ['events'])
  connection.on((message) => {
    const event = describe(message)
    if (event) events.value = [{ id: nextId++, ...event }, ...events.value].slice(0, MAX_EVENTS)
  })

  async function loadHealth(): Promise<void> {
    try {
      health.value = await unwrap(getHealth())
      error.value = ''
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function loadSettings(): Promise<void> {
    try {
      settings.value = await unwrap(getSettings())
    } catch (err) {
      error.value = errorText(err)
    }
  }

  function setDashboardsUrl(url: string): void {
    dashboardsUrl.value = url.replace(/\/+$/, '')
    localStorage.setItem(DASHBOARDS_KEY, dashboardsUrl.value)
  }

  return { health, settings, error, events, dashboardsUrl, loadHealth, loadSettings, setDashboardsUrl }
})

/** One line for the events feed; heartbeats and market data are too chatty to list. */
export function describe(message: ChannelMessage): Omit<RecentEvent, 'id'> | null {
  switch (message.type) {
    case 'event': {
      const d = message.data
      if (message.event_type === 'position_settled') {
        // Not about a signal (no action/size/price): say what the resolution did to the position.
        const text = `${d['won'] ? 'won' : 'lost'}: ${d['shares']} shares paid ${d['payout']}, realized ${d['realized_pnl']}`
        return { ts: message.timestamp, kind: message.event_type, source: message.source, text }
      }
      const what = [d['action'], d['size'], d['price'] !== undefined ? `@ ${d['price']}` : '', d['reason'] || d['detail'] || '']
      return { ts: message.timestamp, kind: message.event_type, source: message.source, text: what.filter((x) => x !== undefined && x !== '').join(' ') }
    }
    case 'order_update':
      return { ts: message.timestamp, kind: 'order_update', source: message.strategy || 'executor', text: `${message.client_order_id} ${message.status} ${message.size_matched}/${message.original_size} @ ${message.price}` }
    case 'fill':
      return { ts: message.timestamp, kind: 'fill', source: message.strategy || 'executor', text: `${message.side} ${message.size} @ ${message.price} (${message.liquidity})` }
    case 'market_resolved':
      return { ts: message.timestamp, kind: 'market_resolved', source: 'scanner', text: `${message.market_id} → ${message.winning_outcome}` }
    default:
      return null
  }
}
