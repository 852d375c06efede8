// The WebSocket bridge's envelope (services/api/ws.py, docs/api.md). Bus message bodies are
// generated from the Python structs (src/api/ws-messages.ts); the control replies below are plain
// dicts in ws.py with no schema to generate from, so they are typed here.
import type { BusMessage } from '../api/ws-messages'

export const CHANNELS = ['prices', 'books', 'trades', 'events'] as const
export type Channel = (typeof CHANNELS)[number]

/** One data item of a frame: a bus message tagged with the channel it came on. */
export type ChannelMessage = BusMessage & { channel: Channel }

export type ControlMessage =
  | { type: 'welcome'; channels: Channel[]; queue_size: number }
  | { type: 'subscribed'; channels: Channel[]; markets: string[] | null }
  | { type: 'authenticated' }
  | { type: 'pong'; id: unknown }
  | { type: 'dropped'; total: number }
  | { type: 'error'; detail: string }

export type Frame = { kind: 'data'; items: ChannelMessage[] } | { kind: 'control'; message: ControlMessage }

const CONTROL_TYPES = new Set(['welcome', 'subscribed', 'authenticated', 'pong', 'dropped', 'error'])

/**
 * Parse one text frame. Data arrives as a JSON array (the server coalesces queued items), control
 * replies as a single object. Anything else is reported as an error rather than thrown, so one bad
 * frame cannot kill the connection's message loop.
 */
export function parseFrame(text: string): Frame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'control', message: { type: 'error', detail: 'unparseable frame from server' } }
  }
  if (Array.isArray(value)) {
    const items = value.filter(
      (item): item is ChannelMessage =>
        typeof item === 'object' && item !== null && 'channel' in item && 'type' in item,
    )
    return { kind: 'data', items }
  }
  if (typeof value === 'object' && value !== null && 'type' in value) {
    const type = (value as { type: unknown }).type
    if (typeof type === 'string' && CONTROL_TYPES.has(type)) {
      return { kind: 'control', message: value as ControlMessage }
    }
  }
  return { kind: 'control', message: { type: 'error', detail: 'unexpected frame from server' } }
}
