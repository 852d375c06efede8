// One authenticated WebSocket to the API's /ws bridge that keeps itself alive: it re-authenticates
// and re-subscribes after every reconnect, retries with jittered backoff, detects half-open
// connections with pings, and stops retrying when the token is refused (retrying cannot help).
// Framework-free so the connection store stays small and this logic is testable with a fake
// socket and fake timers.
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff'
import { parseFrame, type Channel, type ChannelMessage, type ControlMessage } from './protocol'

export type SocketState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed'

/** The part of the browser WebSocket this class uses (tests pass a fake). */
export interface WebSocketLike {
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: Event) => void) | null
  onmessage: ((ev: MessageEvent) => void) | null
  onclose: ((ev: CloseEvent) => void) | null
  onerror: ((ev: Event) => void) | null
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): number
  clearTimeout(id: number): void
  now(): number
}

export interface LiveSocketOptions {
  url: string
  token: string
  createSocket?: (url: string) => WebSocketLike
  timers?: Timers
  backoff?: BackoffOptions
  pingIntervalMs?: number
  onState?: (state: SocketState, detail: string) => void
  onData?: (items: ChannelMessage[]) => void
  onControl?: (message: ControlMessage) => void
}

export interface Subscription {
  channels: Channel[]
  markets: string[] | null // null: every market
}

const POLICY_VIOLATION = 1008 // what ws.py closes with when the token is wrong

const browserTimers: Timers = {
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (id) => window.clearTimeout(id),
  now: () => Date.now(),
}

export class LiveSocket {
  state: SocketState = 'idle'
  attempt = 0
  nextRetryAt: number | null = null
  private ws: WebSocketLike | null = null
  private welcomed = false
  private refused = false
  private stopped = false
  private awaitingAnswer = false // a ping went out and nothing has arrived since
  private retryTimer: number | null = null
  private pingTimer: number | null = null
  private subscription: Subscription = { channels: [], markets: null }
  private readonly timers: Timers
  private readonly backoff: BackoffOptions
  private readonly pingIntervalMs: number
  private readonly opts: LiveSocketOptions

  constructor(opts: LiveSocketOptions) {
    this.opts = opts
    this.timers = opts.timers ?? browserTimers
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF
    this.pingIntervalMs = opts.pingIntervalMs ?? 20_000
  }

  start(): void {
    this.stopped = false
    this.refused = false
    this.connect()
  }

  /** Close for good (logout, page unload): no reconnect. */
  stop(): void {
    this.stopped = true
    this.clearTimers()
    const ws = this.ws
    this.ws = null
    ws?.close(1000, 'client closed')
    this.setState('closed', '')
  }

  /** Replace the subscription; remembered and re-sent after every reconnect. */
  subscribe(subscription: Subscription): void {
    const removed = this.subscription.channels.filter((c) => !subscription.channels.includes(c))
    this.subscription = { channels: [...subscription.channels], markets: subscription.markets }
    if (this.state !== 'open') return
    if (removed.length) this.send({ op: 'unsubscribe', channels: removed })
    this.sendSubscription()
  }

  private connect(): void {
    this.retryTimer = null
    this.nextRetryAt = null
    this.welcomed = false
    this.awaitingAnswer = false
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting', '')
    const create = this.opts.createSocket ?? ((url: string) => new WebSocket(url))
    const ws = create(this.opts.url)
    this.ws = ws
    // Handlers check `this.ws === ws` so events of a socket we already replaced are ignored.
    ws.onopen = () => {
      if (this.ws !== ws) return
      // The token goes in the first message, not the URL, so it never lands in access logs.
      ws.send(JSON.stringify({ op: 'auth', token: this.opts.token }))
    }
    ws.onmessage = (ev) => {
      if (this.ws === ws && typeof ev.data === 'string') this.handle(ev.data)
    }
    ws.onclose = (ev) => {
      if (this.ws === ws) this.closed(ev.code, ev.reason)
    }
    ws.onerror = () => {
      /* always followed by close; handled there */
    }
  }

  private handle(text: string): void {
    this.awaitingAnswer = false
    const frame = parseFrame(text)
    if (frame.kind === 'data') {
      this.opts.onData?.(frame.items)
      return
    }
    const message = frame.message
    if (message.type === 'welcome') {
      this.welcomed = true
      this.attempt = 0
      this.setState('open', '')
      this.sendSubscription()
      this.schedulePing()
    } else if (message.type === 'error' && !this.welcomed) {
      this.refused = true // the server refused the token; it closes next
      this.setState(this.state, message.detail)
    }
    this.opts.onControl?.(message)
  }

  private closed(code: number, reason: string): void {
    this.clearTimers()
    this.ws = null
    if (this.stopped) return
    if (this.refused || code === POLICY_VIOLATION) {
      this.setState('unauthorized', reason || 'the API refused the token')
      return
    }
    const delay = backoffDelay(this.attempt, this.backoff)
    this.attempt += 1
    this.nextRetryAt = this.timers.now() + delay
    this.setState('reconnecting', reason || `connection lost (code ${code})`)
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay)
  }

  private schedulePing(): void {
    this.pingTimer = this.timers.setTimeout(() => {
      if (!this.ws) return
      if (this.awaitingAnswer) {
        // Nothing at all since the last ping, not even a pong: the link is dead but the browser
        // has not noticed (sleep, NAT timeout). Closing triggers the normal reconnect path.
        const ws = this.ws
        this.closed(4000, 'no answer to ping')
        ws.close(4000, 'no answer to ping')
        return
      }
      this.send({ op: 'ping', id: this.timers.now() })
      this.awaitingAnswer = true
      this.schedulePing()
    }, this.pingIntervalMs)
  }

  private sendSubscription(): void {
    const { channels, markets } = this.subscription
    if (channels.length) this.send({ op: 'subscribe', channels, markets: markets ?? [] })
  }

  private send(payload: Record<string, unknown>): void {
    this.ws?.send(JSON.stringify(payload))
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer)
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer)
    this.retryTimer = this.pingTimer = null
  }

  private setState(state: SocketState, detail: string): void {
    this.state = state
    this.opts.onState?.(state, detail)
  }
}
