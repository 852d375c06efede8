import { describe, expect, it } from 'vitest'
import { parseFrame } from '../../src/lib/protocol'

describe('parseFrame', () => {
  it('reads a coalesced array as data and drops items without channel or type', () => {
    const frame = parseFrame(JSON.stringify([{ channel: 'prices', type: 'price', mid: 0.5 }, { junk: 1 }]))
    expect(frame.kind).toBe('data')
    expect(frame.kind === 'data' && frame.items.length).toBe(1)
  })

  it('reads control replies', () => {
    expect(parseFrame('{"type":"dropped","total":3}')).toEqual({ kind: 'control', message: { type: 'dropped', total: 3 } })
  })

  it('reports garbage as an error instead of throwing', () => {
    expect(parseFrame('not json')).toMatchObject({ kind: 'control', message: { type: 'error' } })
    expect(parseFrame('{"type":"surprise"}')).toMatchObject({ kind: 'control', message: { type: 'error' } })
  })
})
