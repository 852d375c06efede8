import { describe, expect, it } from 'vitest'
import type { MarketOut } from '../../src/api/rest/types.gen'
import { checkTicket, describeVerdict, type TicketInput } from '../../src/lib/order-ticket'

const market: MarketOut = {
  market_id: 'm1', question: 'Q?', slug: 'q', event_slug: 'e', yes_token_id: 'ty', no_token_id: 'tn',
  yes_outcome: 'Yes', no_outcome: 'No', tick_size: '0.01', min_order_size: '5', neg_risk: false,
  is_active: true, is_closed: false, end_date: null, winning_token_id: null,
}
const input = (over: Partial<TicketInput>): TicketInput => ({ action: 'BUY_YES', price: '0.45', size: '10', orderType: 'GTC', ...over })

describe('checkTicket', () => {
  it('builds the request for the outcome token the action names', () => {
    expect(checkTicket(market, input({})).request).toMatchObject({ token_id: 'ty', price: 0.45, size: 10, action: 'BUY_YES' })
    expect(checkTicket(market, input({ action: 'SELL_NO' })).request?.token_id).toBe('tn')
    expect(checkTicket(market, input({})).notional).toBe(4.5)
  })

  it('accepts prices on the tick despite float noise (0.29 / 0.01 = 28.999…)', () => {
    expect(checkTicket(market, input({ price: '0.29' })).errors).toEqual([])
  })

  it.each([
    [{ price: '1' }, 'between 0 and 1'],
    [{ price: '0' }, 'between 0 and 1'],
    [{ price: 'abc' }, 'between 0 and 1'],
    [{ price: '0.455' }, 'multiple of the tick size 0.01'],
    [{ size: '' }, 'positive number of shares'],
    [{ size: '4.99' }, 'at least 5 shares'],
  ])('refuses %o', (over, message) => {
    const check = checkTicket(market, input(over))
    expect(check.request).toBeNull()
    expect(check.errors.join(' ')).toContain(message)
  })

  it('refuses orders on a closed market', () => {
    expect(checkTicket({ ...market, is_closed: true }, input({})).errors).toContain('the market is not open for trading')
  })
})

describe('describeVerdict', () => {
  const base = { outcome: 'accepted' as const, fate: 'signal_accepted', reason: '', data: { strategy: 'manual' } }

  it('does not call a shadowed signal accepted', () => {
    const shadowed = { ...base, outcome: 'shadowed' as const, fate: 'signal_shadowed', data: { strategy: 'manual', would_be: 'accepted' } }
    expect(describeVerdict(shadowed)).toEqual({
      tone: 'warn',
      text: "Shadowed: not sent to the venue (strategy 'manual' is in shadow mode; it would be accepted)",
    })
  })

  it('goes by the outcome, not by the fate name (a repeated shadowed signal comes back as signal_rejected)', () => {
    const repeat = { ...base, outcome: 'shadowed' as const, fate: 'signal_rejected', data: { strategy: 'arb' } }
    expect(describeVerdict(repeat)).toEqual({
      tone: 'warn',
      text: "Shadowed: not sent to the venue (strategy 'arb' is in shadow mode)",
    })
  })

  it("shows the API's reason for a refusal (the rule and its detail)", () => {
    const v = describeVerdict({ ...base, outcome: 'rejected', fate: 'signal_rejected', reason: 'kill_switch: kill switch is on' })
    expect(v).toEqual({ tone: 'error', text: 'Refused: signal_rejected — kill_switch: kill switch is on' })
    expect(describeVerdict(base)).toEqual({ tone: 'ok', text: 'Accepted: signal_accepted' })
  })
})
