import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../../src/lib/backoff'

describe('backoffDelay', () => {
  const opts = (r: number) => ({ baseMs: 500, maxMs: 15_000, random: () => r })

  it('doubles the ceiling per attempt and stays within [ceiling/2, ceiling]', () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, opts(0)))).toEqual([250, 500, 1000, 2000])
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, opts(1)))).toEqual([500, 1000, 2000, 4000])
  })

  it('caps the delay at maxMs however many attempts failed', () => {
    expect(backoffDelay(50, opts(1))).toBe(15_000)
    expect(backoffDelay(50, opts(0))).toBe(7_500)
  })
})
