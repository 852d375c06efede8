import { describe, expect, it } from 'vitest'
import type { BookDelta, BookSnapshot } from '../../src/api/ws-messages'
import { applyDelta, bestAsk, bestBid, fromSnapshot } from '../../src/lib/book'

const snapshot: BookSnapshot = {
  type: 'book',
  market_id: 'm1',
  token_id: 't1',
  bids: [[0.4, 100], [0.42, 50]],
  asks: [[0.47, 20], [0.45, 10]],
  timestamp: 1000,
}

function delta(changes: BookDelta['changes'], timestamp = 1001): BookDelta {
  return { type: 'book_delta', market_id: 'm1', token_id: 't1', changes, timestamp }
}

describe('local book', () => {
  it('sorts a snapshot best first on both sides', () => {
    const book = fromSnapshot(snapshot)
    expect(book.bids.map((l) => l.price)).toEqual([0.42, 0.4])
    expect(book.asks.map((l) => l.price)).toEqual([0.45, 0.47])
  })

  it('sets, adds and removes levels from a delta', () => {
    const book = applyDelta(fromSnapshot(snapshot), delta([['BUY', 0.42, 0], ['BUY', 0.43, 5], ['SELL', 0.45000000000000001, 99]]))
    expect(bestBid(book)).toBe(0.43)
    expect(book.bids).toHaveLength(2)
    expect(book.asks[0]).toEqual({ price: 0.45, size: 99 })
    expect(book.timestampMs).toBe(1001)
  })

  it('ignores deltas older than the book and deltas of other tokens', () => {
    const book = fromSnapshot(snapshot)
    expect(applyDelta(book, delta([['SELL', 0.45, 0]], 999))).toBe(book)
    expect(applyDelta(book, { ...delta([['SELL', 0.45, 0]]), token_id: 't2' })).toBe(book)
    expect(bestAsk(book)).toBe(0.45)
  })
})
