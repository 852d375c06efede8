// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MarketOut, StrategyOut } from '../../src/api/rest/types.gen'
import LineChart from '../../src/components/charts/LineChart.vue'
import ConnectionBadge from '../../src/components/layout/ConnectionBadge.vue'
import OrderBook from '../../src/components/markets/OrderBook.vue'
import OrderTicket from '../../src/components/markets/OrderTicket.vue'
import StrategyConfigEditor from '../../src/components/strategies/StrategyConfigEditor.vue'
import { useConnectionStore } from '../../src/stores/connection'

const market: MarketOut = {
  market_id: 'm1', question: 'Will it rain?', slug: 'rain', event_slug: 'weather', yes_token_id: 'ty', no_token_id: 'tn',
  yes_outcome: 'Yes', no_outcome: 'No', tick_size: '0.01', min_order_size: '5', neg_risk: false, is_active: true,
  is_closed: false, end_date: null, winning_token_id: null,
}

beforeEach(() => setActivePinia(createPinia()))

describe('OrderTicket', () => {
  it('names the outcomes, explains bad input and only enables submit for a valid order', async () => {
    const wrapper = mount(OrderTicket, { props: { market } })
    expect(wrapper.get('[data-testid=ticket-action]').text()).toContain('Buy Yes')
    const submit = wrapper.get('[data-testid=ticket-submit]')
    expect(submit.attributes('disabled')).toBeDefined()

    await wrapper.get('[data-testid=ticket-price]').setValue('0.455')
    await wrapper.get('[data-testid=ticket-size]').setValue('2')
    const errors = wrapper.get('[data-testid=ticket-errors]').text()
    expect(errors).toContain('multiple of the tick size 0.01')
    expect(errors).toContain('at least 5 shares')
    expect(submit.attributes('disabled')).toBeDefined()

    await wrapper.get('[data-testid=ticket-price]').setValue('0.45')
    await wrapper.get('[data-testid=ticket-size]').setValue('10')
    expect(wrapper.find('[data-testid=ticket-errors]').exists()).toBe(false)
    expect(wrapper.text()).toContain('Notional 4.50 pUSD')
    expect(submit.attributes('disabled')).toBeUndefined()
  })

  it('takes a price clicked in the book', async () => {
    const wrapper = mount(OrderTicket, { props: { market, suggestedPrice: null } })
    await wrapper.setProps({ suggestedPrice: 0.42 })
    expect((wrapper.get('[data-testid=ticket-price]').element as HTMLInputElement).value).toBe('0.42')
  })
})

describe('OrderBook', () => {
  it('shows asks above bids with the spread in the middle and emits a clicked price', async () => {
    const book = { marketId: 'm1', tokenId: 'ty', timestampMs: 1, bids: [{ price: 0.44, size: 5 }, { price: 0.43, size: 9 }], asks: [{ price: 0.46, size: 3 }, { price: 0.47, size: 8 }] }
    const wrapper = mount(OrderBook, { props: { book } })
    const prices = wrapper.findAll('tbody tr:not(.spread)').map((r) => r.find('td').text())
    expect(prices).toEqual(['0.470', '0.460', '0.440', '0.430'])
    await wrapper.findAll('[data-testid=book-bid]')[0]!.trigger('click')
    expect(wrapper.emitted('pick')).toEqual([[0.44]])
  })
})

describe('ConnectionBadge', () => {
  afterEach(() => vi.useRealTimers())

  it('shows the live state and the reconnect countdown', async () => {
    vi.useFakeTimers({ now: 1_000_000 }) // the countdown reads the clock: freeze it
    const connection = useConnectionStore()
    const wrapper = mount(ConnectionBadge)
    connection.state = 'open'
    connection.messagesIn = 12
    await wrapper.vm.$nextTick()
    expect(wrapper.text()).toContain('live')
    expect(wrapper.text()).toContain('12 msgs')
    connection.state = 'reconnecting'
    connection.attempt = 3
    connection.nextRetryAt = 1_000_000 + 4000
    await wrapper.vm.$nextTick()
    expect(wrapper.text()).toContain('reconnecting in 4s (attempt 3)')
    vi.advanceTimersByTime(1000)
    await wrapper.vm.$nextTick()
    expect(wrapper.text()).toContain('reconnecting in 3s (attempt 3)')
    expect(wrapper.get('[data-testid=connection-state]').attributes('data-state')).toBe('reconnecting')
    wrapper.unmount()
  })
})

describe('LineChart', () => {
  it('draws a path through the points and labels the last value', () => {
    const wrapper = mount(LineChart, { props: { points: [{ t: 1, v: 0.4 }, { t: 2, v: 0.5 }] } })
    expect(wrapper.get('path').attributes('d')).toMatch(/^M0\.0,[\d.]+ L600\.0,[\d.]+$/)
    expect(wrapper.text()).toContain('last 0.500')
  })

  it('says so when there is nothing to draw', () => {
    expect(mount(LineChart, { props: { points: [], empty: 'nothing here' } }).text()).toContain('nothing here')
  })
})

describe('StrategyConfigEditor', () => {
  const strategy: StrategyOut = {
    strategy: 'arb1', strategy_class: 'polybot.strategies.arbitrage:Arbitrage', config_hash: 'abc123', config: { edge: '0.02', size: 10 },
    enabled: true, mode: 'live', state: 'RUNNING', error: '', updated_at: '2026-01-01T00:00:00Z',
  }

  it('blocks saving invalid JSON or a wrongly typed field', async () => {
    const wrapper = mount(StrategyConfigEditor, { props: { strategy } })
    const save = wrapper.get('[data-testid=config-save]')
    expect(save.attributes('disabled')).toBeUndefined()
    await wrapper.get('[data-testid=config-text]').setValue('{"edge": ')
    expect(wrapper.text()).toContain('not valid JSON')
    expect(save.attributes('disabled')).toBeDefined()
    await wrapper.get('[data-testid=config-text]').setValue('{"edge": "0.02", "size": [10]}')
    expect(wrapper.text()).toContain('"size" should be a number, not a array')
    expect(save.attributes('disabled')).toBeDefined()
  })
})
