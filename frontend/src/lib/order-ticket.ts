// Client-side checks of the order ticket, mirroring what the API/executor enforce (price inside
// (0, 1) on the market's tick, size at least the market's minimum) so the user sees the problem
// before a round trip. The executor's risk gate still has the last word.
import type { MarketOut, OrderPlacement, PlaceOrderRequest } from '../api/rest/types.gen'

export type Action = PlaceOrderRequest['action']
export type OrderType = NonNullable<PlaceOrderRequest['order_type']>

export interface TicketInput {
  action: Action
  price: string
  size: string
  orderType: OrderType
}

export interface TicketCheck {
  errors: string[]
  notional: number | null
  request: PlaceOrderRequest | null
}

export function tokenFor(market: MarketOut, action: Action): string {
  return action.endsWith('_YES') ? market.yes_token_id : market.no_token_id
}

export function checkTicket(market: MarketOut, input: TicketInput): TicketCheck {
  const errors: string[] = []
  const price = Number(input.price)
  const size = Number(input.size)
  const tick = Number(market.tick_size)
  const minSize = Number(market.min_order_size)
  if (input.price.trim() === '' || !Number.isFinite(price) || price <= 0 || price >= 1) {
    errors.push('price must be between 0 and 1 (exclusive)')
  } else if (tick > 0 && !onTick(price, tick)) {
    errors.push(`price must be a multiple of the tick size ${market.tick_size}`)
  }
  if (input.size.trim() === '' || !Number.isFinite(size) || size <= 0) {
    errors.push('size must be a positive number of shares')
  } else if (minSize > 0 && size < minSize) {
    errors.push(`size must be at least ${market.min_order_size} shares`)
  }
  if (market.is_closed || !market.is_active) errors.push('the market is not open for trading')
  const valid = errors.length === 0
  return {
    errors,
    notional: valid ? Math.round(price * size * 1e6) / 1e6 : null,
    request: valid
      ? {
          market_id: market.market_id,
          token_id: tokenFor(market, input.action),
          action: input.action,
          price,
          size,
          order_type: input.orderType,
          strategy: 'manual',
          reason: 'order ticket',
        }
      : null,
  }
}

function onTick(price: number, tick: number): boolean {
  const ticks = price / tick
  return Math.abs(ticks - Math.round(ticks)) < 1e-6
}

export interface Verdict {
  tone: 'ok' | 'warn' | 'error'
  text: string
}

/**
 * How to tell the user what happened, from the API's `outcome`: `accepted` (sent to the venue),
 * `rejected` (the reason names the rule) or `shadowed` (the strategy is in shadow mode: the signal
 * was checked but never reached the venue, so it must not read as "Accepted").
 */
export function describeVerdict(v: Pick<OrderPlacement, 'outcome' | 'fate' | 'reason' | 'data'>): Verdict {
  if (v.outcome === 'shadowed') {
    const strategy = typeof v.data['strategy'] === 'string' ? v.data['strategy'] : 'manual'
    const wouldBe = typeof v.data['would_be'] === 'string' ? `; it would be ${v.data['would_be']}` : ''
    return { tone: 'warn', text: `Shadowed: not sent to the venue (strategy '${strategy}' is in shadow mode${wouldBe})` }
  }
  if (v.outcome === 'accepted') return { tone: 'ok', text: `Accepted: ${v.fate}` }
  const detail = v.reason || (typeof v.data['detail'] === 'string' ? v.data['detail'] : '')
  return { tone: 'error', text: `Refused: ${v.fate}${detail ? ` — ${detail}` : ''}` }
}
