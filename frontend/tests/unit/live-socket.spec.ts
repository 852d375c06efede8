import { beforeEach, describe, expect, it } from 'vitest'
import { LiveSocket, type SocketState } from '../../src/lib/live-socket'
import type { ChannelMessage } from '../../src/lib/protocol'
import { ManualTimers, SocketFactory } from './helpers/fake-socket'

const PRICE = { channel: 'prices', type: 'price', market_id: 'm1', token_id: 't1', bid: 0.4, ask: 0.42, mid: 0.41, timestamp: 1 }

describe('LiveSocket', () => {
  let factory: SocketFactory
  let timers: ManualTimers
  let states: [SocketState, string][]
  let received: ChannelMessage[]
  let socket: LiveSocket

  beforeEach(() => {
    factory = new SocketFactory()
    timers = new ManualTimers()
    states = []
    received = []
    socket = new LiveSocket({
      url: 'ws://api/ws',
      token: 'secret',
      createSocket: factory.create,
      timers,
      backoff: { baseMs: 1000, maxMs: 8000, random: () => 0 }, // delays: 500, 1000, 2000, 4000, 4000
      pingIntervalMs: 20_000,
      onState: (s, d) => states.push([s, d]),
      onData: (items) => received.push(...items),
    })
    socket.subscribe({ channels: ['prices', 'events'], markets: null })
  })

  it('authenticates with the first message, not the URL, then subscribes after the welcome', () => {
    socket.start()
    const ws = factory.last
    expect(ws.url).toBe('ws://api/ws')
    ws.open()
    expect(ws.sent).toEqual([{ op: 'auth', token: 'secret' }])
    ws.receive({ type: 'welcome', channels: ['prices'], queue_size: 10 })
    expect(socket.state).toBe('open')
    expect(ws.sent[1]).toEqual({ op: 'subscribe', channels: ['prices', 'events'], markets: [] })
  })

  it('delivers every item of a coalesced data frame', () => {
    socket.start()
    factory.last.accept()
    factory.last.receive([PRICE, { ...PRICE, mid: 0.5 }])
    expect(received.map((m) => (m.type === 'price' ? m.mid : null))).toEqual([0.41, 0.5])
  })

  it('reconnects with growing delays and re-authenticates and resubscribes each time', () => {
    socket.start()
    factory.last.accept()
    factory.last.drop(1006)
    expect(socket.state).toBe('reconnecting')
    expect(socket.nextRetryAt).toBe(500)
    timers.advance(499)
    expect(factory.sockets).toHaveLength(1)
    timers.advance(1)
    expect(factory.sockets).toHaveLength(2)
    factory.last.drop(1006) // the API is still down: the next wait doubles
    expect(socket.nextRetryAt).toBe(500 + 1000)
    timers.advance(1000)
    const ws = factory.last
    expect(factory.sockets).toHaveLength(3)
    ws.accept()
    expect(socket.state).toBe('open')
    expect(socket.attempt).toBe(0) // a successful welcome resets the backoff
    expect(ws.sent).toEqual([
      { op: 'auth', token: 'secret' },
      { op: 'subscribe', channels: ['prices', 'events'], markets: [] },
    ])
  })

  it('stops retrying when the server refuses the token', () => {
    socket.start()
    const ws = factory.last
    ws.open()
    ws.receive({ type: 'error', detail: 'the first message must be {"op":"auth","token":"<API token>"}' })
    ws.drop(1008, 'unauthorized')
    expect(socket.state).toBe('unauthorized')
    timers.advance(60_000)
    expect(factory.sockets).toHaveLength(1)
  })

  it('treats a silent link as dead after a ping goes unanswered', () => {
    socket.start()
    const ws = factory.last
    ws.accept()
    timers.advance(20_000) // first tick: no ping is outstanding, so one is sent
    expect(ws.sent.at(-1)).toMatchObject({ op: 'ping' })
    timers.advance(20_000) // no pong (nor anything else) since: close and reconnect
    expect(ws.closedWith).toBe(4000)
    expect(socket.state).toBe('reconnecting')
    timers.advance(500)
    expect(factory.sockets).toHaveLength(2)
  })

  it('does not reconnect after stop()', () => {
    socket.start()
    factory.last.accept()
    socket.stop()
    factory.last.drop(1000)
    timers.advance(60_000)
    expect(factory.sockets).toHaveLength(1)
    expect(socket.state).toBe('closed')
  })

  it('unsubscribes dropped channels on a live connection', () => {
    socket.start()
    const ws = factory.last
    ws.accept()
    socket.subscribe({ channels: ['prices'], markets: null })
    expect(ws.sent.slice(-2)).toEqual([
      { op: 'unsubscribe', channels: ['events'] },
      { op: 'subscribe', channels: ['prices'], markets: [] },
    ])
  })

  it('ignores events from a socket it already replaced', () => {
    socket.start()
    const first = factory.last
    first.accept()
    first.drop(1006)
    timers.advance(500)
    first.receive([PRICE]) // a late frame from the dead socket
    expect(received).toHaveLength(0)
  })
})

describe('LiveSocket keepalive', () => {
  it('keeps a quiet connection that answers its pings', () => {
    const factory = new SocketFactory()
    const timers = new ManualTimers()
    const socket = new LiveSocket({ url: 'ws://x/ws', token: 't', createSocket: factory.create, timers, pingIntervalMs: 1000 })
    socket.start()
    const ws = factory.last
    ws.accept()
    for (let i = 0; i < 5; i++) {
      timers.advance(1000)
      const ping = ws.sent.at(-1) as { op: string; id: number }
      expect(ping.op).toBe('ping')
      ws.receive({ type: 'pong', id: ping.id })
    }
    expect(ws.closedWith).toBeNull()
    expect(socket.state).toBe('open')
  })
})
