// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { connectionDeps, useConnectionStore } from '../../src/stores/connection'
import { useMarketsStore } from '../../src/stores/markets'
import { useSystemStore } from '../../src/stores/system'
import { ManualTimers, SocketFactory } from './helpers/fake-socket'

let factory: SocketFactory
let timers: ManualTimers
let saved: Map<string, string>

beforeEach(() => {
  setActivePinia(createPinia())
  factory = new SocketFactory()
  timers = new ManualTimers()
  saved = new Map()
  connectionDeps.createSocket = factory.create
  connectionDeps.timers = timers
  connectionDeps.wsUrl = () => 'ws://api/ws'
  connectionDeps.storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => void saved.set(k, v), removeItem: (k) => void saved.delete(k) }
})

describe('connection store', () => {
  it('keeps the token only when the WebSocket accepts it', async () => {
    const connection = useConnectionStore()
    const outcome = connection.login('  good-token ')
    factory.last.accept()
    expect(await outcome).toBe('ok')
    expect(factory.last.sent[0]).toEqual({ op: 'auth', token: 'good-token' })
    expect(saved.get('polybot.api_token')).toBe('good-token')
    expect(connection.live).toBe(true)
  })

  it('forgets a refused token and reports it', async () => {
    const connection = useConnectionStore()
    const outcome = connection.login('bad')
    factory.last.open()
    factory.last.receive({ type: 'error', detail: 'the first message must be {"op":"auth","token":"<API token>"}' })
    factory.last.drop(1008, 'unauthorized')
    expect(await outcome).toBe('refused')
    expect(connection.token).toBeNull()
    expect(saved.size).toBe(0)
  })

  it('reports an unreachable API instead of waiting forever', async () => {
    const connection = useConnectionStore()
    const outcome = connection.login('tok')
    factory.last.drop(1006)
    expect(await outcome).toBe('unreachable')
    expect(connection.state).toBe('idle')
    timers.advance(60_000)
    expect(factory.sockets).toHaveLength(1) // logout stopped the retries
  })

  it('subscribes to the union of what the domain stores want', async () => {
    const connection = useConnectionStore()
    useMarketsStore() // prices + books
    useSystemStore() // events
    const outcome = connection.login('tok')
    factory.last.accept()
    await outcome
    expect(factory.last.sent[1]).toEqual({ op: 'subscribe', channels: ['books', 'events', 'prices'], markets: [] })
  })
})

describe('live updates reach the domain stores', () => {
  async function loggedIn() {
    const connection = useConnectionStore()
    const outcome = connection.login('tok')
    factory.last.accept()
    await outcome
    return factory.last
  }

  it('markets: quotes follow prices, and the selected token gets chart points and book updates', async () => {
    const markets = useMarketsStore()
    const ws = await loggedIn()
    markets.selected = {
      market_id: 'm1', question: 'Q?', slug: 'q', event_slug: 'e', yes_token_id: 'ty', no_token_id: 'tn', yes_outcome: 'Yes',
      no_outcome: 'No', tick_size: '0.01', min_order_size: '5', neg_risk: false, is_active: true, is_closed: false,
      end_date: null, winning_token_id: null,
    }
    ws.receive([
      { channel: 'prices', type: 'price', market_id: 'm1', token_id: 'ty', bid: 0.4, ask: 0.42, mid: 0.41, timestamp: 10 },
      { channel: 'prices', type: 'price', market_id: 'm2', token_id: 'other', bid: 0.1, ask: 0.2, mid: 0.15, timestamp: 11 },
      { channel: 'books', type: 'book', market_id: 'm1', token_id: 'ty', bids: [[0.4, 10]], asks: [[0.42, 7]], timestamp: 12 },
      { channel: 'books', type: 'book_delta', market_id: 'm1', token_id: 'ty', changes: [['SELL', 0.42, 0], ['SELL', 0.43, 3]], timestamp: 13 },
      { channel: 'books', type: 'book', market_id: 'm1', token_id: 'tn', bids: [[0.5, 1]], asks: [], timestamp: 14 },
    ])
    expect(markets.quotes['ty']?.mid).toBe(0.41)
    expect(markets.quotes['other']?.mid).toBe(0.15)
    expect(markets.series).toEqual([{ t: 10, v: 0.41 }])
    expect(markets.book?.tokenId).toBe('ty') // the NO token's snapshot was not for the shown outcome
    expect(markets.book?.asks).toEqual([{ price: 0.43, size: 3 }])
    expect(markets.quotes['ty']).toEqual({ bid: 0.4, ask: 0.43, mid: 0.41, ts: 10 }) // mid stays the scanner's
  })

  it('system: recent events list order updates and fills, newest first, and skips heartbeats', async () => {
    const system = useSystemStore()
    const ws = await loggedIn()
    ws.receive([
      { channel: 'events', type: 'heartbeat', service: 'executor', pid: 1, status: 'ok', uptime_s: 1, timestamp: 1 },
      { channel: 'events', type: 'event', source: 'executor', event_type: 'signal_accepted', data: { action: 'BUY_YES', size: 10, price: 0.45 }, timestamp: 2 },
      { channel: 'events', type: 'fill', market_id: 'm1', token_id: 'ty', fill_id: 'f1', order_id: 'o1', client_order_id: 'c1', strategy: 'manual', side: 'BUY', price: '0.45', size: '10', fee: '0', liquidity: 'TAKER', status: 'MATCHED', timestamp: 3 },
    ])
    expect(system.events.map((e) => e.kind)).toEqual(['fill', 'signal_accepted'])
    expect(system.events[1]?.text).toBe('BUY_YES 10 @ 0.45')
    expect(system.events[0]?.text).toBe('BUY 10 @ 0.45 (TAKER)')
  })

  it('a listener that throws does not stop the others', async () => {
    const connection = useConnectionStore()
    connection.on(() => {
      throw new Error('boom') // registered before the markets store's listener
    })
    const markets = useMarketsStore()
    const ws = await loggedIn()
    const errors: unknown[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void errors.push(args)
    try {
      ws.receive([{ channel: 'prices', type: 'price', market_id: 'm1', token_id: 'ty', bid: 0.4, ask: 0.42, mid: 0.41, timestamp: 10 }])
    } finally {
      console.error = original
    }
    expect(markets.quotes['ty']?.mid).toBe(0.41)
    expect(errors).toHaveLength(1)
    expect(connection.messagesIn).toBe(1)
  })
})
