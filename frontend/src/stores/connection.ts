// The session: the API token, the one live WebSocket, and fan-out of its messages to the domain
// stores. Domain stores register listeners with `on()` and declare the channels they need with
// `want()`; this store subscribes to the union, so pages can come and go without one page's
// unsubscribe starving another.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { configureApi } from '../lib/api'
import { LiveSocket, type SocketState, type Timers, type WebSocketLike } from '../lib/live-socket'
import type { Channel, ChannelMessage } from '../lib/protocol'

const TOKEN_KEY = 'polybot.api_token'

/** Seams for tests: a fake socket and fake timers instead of the browser's. */
export const connectionDeps: {
  createSocket?: (url: string) => WebSocketLike
  timers?: Timers
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  wsUrl: () => string
} = {
  // localStorage keeps the login across reloads; the token is local-only and revocable by
  // deleting data/api_token, and the UI is served from the same loopback origin as the API.
  storage: typeof localStorage === 'undefined' ? memoryStorage() : localStorage,
  wsUrl: () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
}

export type LoginResult = 'ok' | 'refused' | 'unreachable'
type Listener = (message: ChannelMessage) => void

export const useConnectionStore = defineStore('connection', () => {
  const token = ref<string | null>(connectionDeps.storage.getItem(TOKEN_KEY))
  const state = ref<SocketState>('idle')
  const detail = ref('')
  const attempt = ref(0)
  const nextRetryAt = ref<number | null>(null)
  const messagesIn = ref(0)
  const dropped = ref(0)
  const lastMessageAt = ref<number | null>(null)
  const listeners = new Set<Listener>()
  const wanted = new Map<string, Channel[]>()
  let socket: LiveSocket | null = null
  let pendingLogin: ((result: LoginResult) => void) | null = null

  configureApi(() => token.value)

  const loggedIn = computed(() => token.value !== null && state.value !== 'unauthorized')
  const live = computed(() => state.value === 'open')

  function connect(): void {
    socket?.stop()
    if (!token.value) return
    const s = new LiveSocket({
      url: connectionDeps.wsUrl(),
      token: token.value,
      createSocket: connectionDeps.createSocket,
      timers: connectionDeps.timers,
      onState: (next, why) => {
        if (socket !== s) return
        state.value = next
        detail.value = why
        attempt.value = s.attempt
        nextRetryAt.value = s.nextRetryAt
        settleLogin(next)
      },
      onData: (items) => dispatch(items),
      onControl: (message) => {
        if (message.type === 'dropped') dropped.value = message.total
      },
    })
    socket = s
    s.subscribe(subscription())
    s.start()
  }

  function settleLogin(next: SocketState): void {
    if (!pendingLogin) return
    const result: LoginResult | null =
      next === 'open' ? 'ok' : next === 'unauthorized' ? 'refused' : next === 'reconnecting' && detail.value ? 'unreachable' : null
    if (result === null) return
    const resolve = pendingLogin
    pendingLogin = null
    resolve(result)
  }

  /** Try a token: it is kept only if the WebSocket accepts it (the API has no "whoami" route). */
  function login(candidate: string): Promise<LoginResult> {
    token.value = candidate.trim()
    const outcome = new Promise<LoginResult>((resolve) => (pendingLogin = resolve))
    connect()
    return outcome.then((result) => {
      if (result === 'ok') connectionDeps.storage.setItem(TOKEN_KEY, token.value ?? '')
      else logout(false)
      return result
    })
  }

  function logout(forget = true): void {
    socket?.stop()
    socket = null
    if (forget) connectionDeps.storage.removeItem(TOKEN_KEY)
    token.value = null
    state.value = 'idle'
  }

  function on(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /** Declare the channels `owner` needs (replacing its previous wish) and resubscribe. */
  function want(owner: string, channels: Channel[]): void {
    if (channels.length) wanted.set(owner, channels)
    else wanted.delete(owner)
    socket?.subscribe(subscription())
  }

  function subscription() {
    const channels = new Set<Channel>()
    for (const list of wanted.values()) list.forEach((c) => channels.add(c))
    return { channels: [...channels].sort(), markets: null }
  }

  function dispatch(items: ChannelMessage[]): void {
    messagesIn.value += items.length
    lastMessageAt.value = Date.now()
    for (const item of items) {
      for (const listener of listeners) {
        try {
          listener(item)
        } catch (err) {
          // One store's bug must not stop the others from getting the message.
          console.error('a live-update listener failed', err)
        }
      }
    }
  }

  return { token, state, detail, attempt, nextRetryAt, messagesIn, dropped, lastMessageAt, loggedIn, live, connect, login, logout, on, want }
})

function memoryStorage(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
  const data = new Map<string, string>()
  return {
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  }
}
