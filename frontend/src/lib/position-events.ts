// Which live messages mean positions, PnL and exposure just changed in SQLite (docs/bus.md): a
// fill booked, a position settled by its market's resolution, a booked fill undone because the
// venue reported its trade FAILED. The executor commits each before it publishes it.
import type { ChannelMessage } from './protocol'

export const POSITION_EVENTS: readonly string[] = ['order_filled', 'position_settled', 'fill_reversed']

/** True when `message` announces a change to our positions (so a REST reload will show it). */
export function changesPositions(message: ChannelMessage): boolean {
  return message.type === 'fill' || (message.type === 'event' && POSITION_EVENTS.includes(message.event_type))
}
