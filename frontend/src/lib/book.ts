// A local L2 book of one outcome token: seeded from REST (GET /markets/{id}/book), then kept live
// with the `books` channel (full snapshots and per-level deltas, as the scanner publishes them).
// Pure functions returning new objects, so a store can hold the book in a ref and Vue re-renders.
import type { BookOut } from '../api/rest/types.gen'
import type { BookDelta, BookSnapshot } from '../api/ws-messages'

export interface Level {
  price: number
  size: number
}

export interface LocalBook {
  marketId: string
  tokenId: string
  bids: Level[] // best (highest) first
  asks: Level[] // best (lowest) first
  timestampMs: number
}

export function fromRest(book: BookOut): LocalBook {
  return {
    marketId: book.market_id,
    tokenId: book.token_id,
    bids: book.bids.map(({ price, size }) => ({ price, size })),
    asks: book.asks.map(({ price, size }) => ({ price, size })),
    timestampMs: book.timestamp_ms,
  }
}

export function fromSnapshot(msg: BookSnapshot): LocalBook {
  const levels = (side: [number, number][]) => side.map(([price, size]) => ({ price, size }))
  return {
    marketId: msg.market_id,
    tokenId: msg.token_id,
    bids: sortSide(levels(msg.bids), true),
    asks: sortSide(levels(msg.asks), false),
    timestampMs: msg.timestamp,
  }
}

/** Apply a delta; older than the book (a REST seed can be newer than queued deltas) is ignored. */
export function applyDelta(book: LocalBook, msg: BookDelta): LocalBook {
  if (msg.token_id !== book.tokenId || msg.timestamp < book.timestampMs) return book
  let bids = book.bids
  let asks = book.asks
  for (const [side, price, size] of msg.changes) {
    if (side === 'BUY') bids = setLevel(bids, price, size, true)
    else asks = setLevel(asks, price, size, false)
  }
  return { ...book, bids, asks, timestampMs: msg.timestamp }
}

function setLevel(levels: Level[], price: number, size: number, descending: boolean): Level[] {
  const rest = levels.filter((l) => !samePrice(l.price, price))
  if (size > 0) rest.push({ price, size })
  return sortSide(rest, descending)
}

function sortSide(levels: Level[], descending: boolean): Level[] {
  return levels.sort((a, b) => (descending ? b.price - a.price : a.price - b.price))
}

// Prices are bus floats (0.45 may arrive as 0.45000000000000001): compare at sub-tick precision.
function samePrice(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-9
}

export function bestBid(book: LocalBook): number | null {
  return book.bids[0]?.price ?? null
}

export function bestAsk(book: LocalBook): number | null {
  return book.asks[0]?.price ?? null
}
