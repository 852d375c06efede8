// A scripted stand-in for the browser WebSocket and for window timers, so the reconnect and auth
// logic can be driven step by step: the test plays the server's side of services/api/ws.py.
import type { Timers, WebSocketLike } from '../../../src/lib/live-socket'

export class FakeSocket implements WebSocketLike {
  sent: unknown[] = []
  closedWith: number | null = null
  onopen: ((ev: Event) => void) | null = null
  onmessage: ((ev: MessageEvent) => void) | null = null
  onclose: ((ev: CloseEvent) => void) | null = null
  onerror: ((ev: Event) => void) | null = null
  readonly url: string

  constructor(url: string) {
    this.url = url
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data))
  }

  close(code = 1000): void {
    this.closedWith = code
  }

  // ---- the server's side
  open(): void {
    this.onopen?.(new Event('open'))
  }

  receive(payload: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(payload) }))
  }

  drop(code = 1006, reason = ''): void {
    this.onclose?.({ code, reason } as CloseEvent)
  }

  /** Open, accept the auth message and welcome the client, as ws.py does for a good token. */
  accept(): void {
    this.open()
    this.receive({ type: 'welcome', channels: ['prices', 'books', 'trades', 'events'], queue_size: 2000 })
  }
}

export class SocketFactory {
  sockets: FakeSocket[] = []
  create = (url: string): FakeSocket => {
    const socket = new FakeSocket(url)
    this.sockets.push(socket)
    return socket
  }
  get last(): FakeSocket {
    const socket = this.sockets[this.sockets.length - 1]
    if (!socket) throw new Error('no socket was created')
    return socket
  }
}

/** Timers that only fire when the test advances the clock. */
export class ManualTimers implements Timers {
  private clock = 0
  private nextId = 1
  private pending = new Map<number, { at: number; fn: () => void }>()

  now(): number {
    return this.clock
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++
    this.pending.set(id, { at: this.clock + ms, fn })
    return id
  }
  clearTimeout(id: number): void {
    this.pending.delete(id)
  }
  get count(): number {
    return this.pending.size
  }
  /** Advance the clock, firing due timers in time order (including ones they schedule). */
  advance(ms: number): void {
    const until = this.clock + ms
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      this.pending.delete(due[0])
      this.clock = due[1].at
      due[1].fn()
    }
    this.clock = until
  }
}
