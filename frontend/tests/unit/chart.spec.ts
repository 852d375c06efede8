import { describe, expect, it } from 'vitest'
import { bars, linePath, valueScale } from '../../src/lib/chart'

describe('chart geometry', () => {
  it('maps the first point to the left edge and the last to the right', () => {
    const d = linePath([{ t: 0, v: 0 }, { t: 5, v: 10 }, { t: 10, v: 5 }], 100, 50)
    const coords = d.split(' ').map((s) => s.slice(1).split(',').map(Number))
    expect(coords[0]?.[0]).toBe(0)
    expect(coords[2]?.[0]).toBe(100)
    expect(coords[1]?.[1]).toBeLessThan(coords[0]?.[1] ?? 0) // higher value → higher on screen
  })

  it('gives a flat series a visible range', () => {
    const s = valueScale([0.5, 0.5])
    expect(s.min).toBeLessThan(0.5)
    expect(s.max).toBeGreaterThan(0.5)
  })

  it('hangs negative bars below the zero line', () => {
    const { bars: b, zeroY } = bars([10, -5], 100, 30)
    expect(zeroY).toBe(20)
    expect(b[0]).toMatchObject({ y: 0, height: 20, negative: false })
    expect(b[1]).toMatchObject({ y: 20, height: 10, negative: true })
  })
})
