// @vitest-environment happy-dom
// The positions page follows settlements and reversed fills as it follows fills: the executor
// announces each on events.pub after committing it, and the page reloads positions/PnL over REST.
// The page, stores and generated REST client are real; the API's side is a scripted WebSocket and
// a fetch that answers from a mutable in-memory state.
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PnlOut, PositionOut, RiskStateOut } from '../../src/api/rest/types.gen'
import { configureApi } from '../../src/lib/api'
import PositionsPage from '../../src/pages/PositionsPage.vue'
import { connectionDeps, useConnectionStore } from '../../src/stores/connection'
import { usePositionsStore } from '../../src/stores/positions'
import { useRiskStore } from '../../src/stores/risk'
import { describe as describeEvent } from '../../src/stores/system'
import { ManualTimers, SocketFactory } from './helpers/fake-socket'

const held: PositionOut = {
  account: '0xme', strategy: 'manual', market_id: 'm1', token_id: 'tn', size: '20', avg_price: '0.35',
  realized_pnl: '0', fees_paid: '0.07', mark: 0.3, unrealized_pnl: '-1.00', opened_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}
const figures = (realized: string, exposure: string) => ({ realized, unrealized: '0', fees: '0.07', exposure })
const pnl = (realized: string, exposure: string): PnlOut => ({
  total: figures(realized, exposure), by_strategy: { manual: figures(realized, exposure) }, daily_realized: realized,
  daily_trades: 1, unmarked: [],
})
const risk = (exposure: string): RiskStateOut => ({
  limits: {
    max_order_notional: '100', max_market_position: '500', max_total_exposure: '1000', max_daily_loss: '50',
    max_open_orders: 20, min_balance: '10', max_event_exposure: '500', stale_book_ms: 5000, kill_switch: false,
  },
  kill_switch: false, open_orders: 0, total_exposure: exposure, exposure_by_market: {}, daily_pnl: '0',
  daily_loss_headroom: '50',
})

/** What the API answers now; a test changes it as the executor's commit would. */
class FakeApi {
  positions: PositionOut[] = [held]
  pnl: PnlOut = pnl('0', '7.00')
  risk: RiskStateOut = risk('7.00')
  hits = new Map<string, number>()

  fetch = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1)
    const bodies: Record<string, unknown> = {
      '/positions': this.positions, '/pnl': this.pnl, '/risk': this.risk, '/balances': { balances: null, as_of_ms: 0 },
    }
    if (!(path in bodies)) return new Response(JSON.stringify({ detail: 'not found' }), { status: 404 })
    return new Response(JSON.stringify(bodies[path]), { status: 200, headers: { 'content-type': 'application/json' } })
  }

  count(path: string): number {
    return this.hits.get(path) ?? 0
  }
}

const settledEvent = {
  channel: 'events', type: 'event', source: 'executor', event_type: 'position_settled', timestamp: 5,
  data: {
    account: '0xme', strategy: 'manual', market_id: 'm1', token_id: 'tn', winning_token_id: 'ty', winning_outcome: 'Yes',
    won: false, shares: '20', avg_price: '0.35', payout_price: '0', payout: '0', realized_pnl: '-7.00',
    position_realized_pnl: '-7.00', source: 'venue', settlement_id: 1, resolved_at: 4,
  },
}
const reversedEvent = {
  channel: 'events', type: 'event', source: 'executor', event_type: 'fill_reversed', timestamp: 5,
  data: {
    signal_id: 's1', strategy: 'manual', market_id: 'm1', action: 'BUY_NO', token_id: 'tn', price: 0.35, size: 20,
    fate: 'reversed', client_order_id: 's1', order_id: 'v1',
    fill: { fill_id: 'f1', side: 'BUY', price: '0.35', size: '20', fee: '0.07', liquidity: 'TAKER', status: 'FAILED' },
    reversal: { id: 1, size_delta: '-20', realized_pnl: '0', fees_delta: '-0.07', cash_delta: '7.07' },
    position: { token_id: 'tn', size: '0', avg_price: '0', realized_pnl: '0' },
  },
}

let api: FakeApi
let factory: SocketFactory

beforeEach(() => {
  setActivePinia(createPinia())
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }) // the stores' debounce
  api = new FakeApi()
  factory = new SocketFactory()
  connectionDeps.createSocket = factory.create
  connectionDeps.timers = new ManualTimers()
  connectionDeps.wsUrl = () => 'ws://api/ws'
  const saved = new Map<string, string>()
  connectionDeps.storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => void saved.set(k, v), removeItem: (k) => void saved.delete(k) }
  vi.stubGlobal('fetch', api.fetch)
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

async function loggedIn() {
  const connection = useConnectionStore()
  configureApi(() => connection.token, 'http://api') // after the store's own (same-origin) setup
  const outcome = connection.login('tok')
  factory.last.accept()
  await outcome
  return factory.last
}

describe('the positions page after a settlement or a reversed fill', () => {
  it.each([
    ['position_settled', settledEvent],
    ['fill_reversed', reversedEvent],
  ])('reloads on %s: the closed position leaves the table and the PnL moves', async (_name, event) => {
    const page = mount(PositionsPage)
    const ws = await loggedIn()
    await vi.waitFor(() => expect(page.findAll('[data-testid=position-row]')).toHaveLength(1))
    const loads = api.count('/positions')

    api.positions = [] // the executor committed the settlement / reversal, then announced it
    api.pnl = pnl('-7.00', '0')
    ws.receive([event])
    await vi.advanceTimersByTimeAsync(400)

    await vi.waitFor(() => expect(page.findAll('[data-testid=position-row]')).toHaveLength(0))
    expect(page.get('[data-testid=positions-table]').text()).toContain('no open positions')
    expect(usePositionsStore().pnl?.total.realized).toBe('-7.00')
    expect(api.count('/positions')).toBe(loads + 1)
    page.unmount()
  })

  it('turns a resolution that settles several positions into one reload', async () => {
    const positions = usePositionsStore()
    const ws = await loggedIn()
    ws.receive([
      settledEvent,
      { ...settledEvent, data: { ...settledEvent.data, strategy: 'arb', settlement_id: 2 } },
      { ...settledEvent, data: { ...settledEvent.data, token_id: 'ty', won: true, settlement_id: 3 } },
    ])
    await vi.advanceTimersByTimeAsync(400)
    await vi.waitFor(() => expect(positions.pnl).not.toBeNull())
    expect(api.count('/positions')).toBe(1)
  })

  it('does not reload on events that leave positions alone', async () => {
    usePositionsStore()
    const ws = await loggedIn()
    ws.receive([{ channel: 'events', type: 'event', source: 'executor', event_type: 'signal_rejected', data: {}, timestamp: 1 }])
    await vi.advanceTimersByTimeAsync(1000)
    expect(api.count('/positions')).toBe(0)
  })
})

describe('the risk page after a settlement', () => {
  it('reloads exposure when a position is settled', async () => {
    const riskStore = useRiskStore()
    const ws = await loggedIn()
    await riskStore.load()
    expect(riskStore.state?.total_exposure).toBe('7.00')

    api.risk = risk('0')
    ws.receive([settledEvent])
    await vi.advanceTimersByTimeAsync(250)
    await vi.waitFor(() => expect(riskStore.state?.total_exposure).toBe('0'))
  })
})

describe('the events feed', () => {
  it('says what a settlement did (it has no action, size or price)', () => {
    const line = describeEvent(settledEvent as Parameters<typeof describeEvent>[0])
    expect(line?.kind).toBe('position_settled')
    expect(line?.text).toBe('lost: 20 shares paid 0, realized -7.00')
  })
})
