import { describe, expect, it } from 'vitest'
import { checkConfig } from '../../src/lib/config-check'

const current = { edge: '0.05', size: 10, markets: ['m1'], enabled_sides: null }

describe('checkConfig', () => {
  it('passes an unchanged config through', () => {
    const check = checkConfig(JSON.stringify(current), current)
    expect(check.errors).toEqual([])
    expect(check.value).toEqual(current)
  })

  it('reports JSON syntax errors and non-objects', () => {
    expect(checkConfig('{"edge": }', current).errors[0]).toMatch(/^not valid JSON/)
    expect(checkConfig('[1, 2]', current).errors[0]).toMatch(/must be a JSON object/)
  })

  it('refuses a value of the wrong JSON type but allows decimals as numbers or strings', () => {
    const check = checkConfig(JSON.stringify({ ...current, markets: 'm1', edge: 0.07, size: '12' }), current)
    expect(check.errors).toEqual(['"markets" should be a array, not a string'])
    expect(check.value).toBeNull()
  })

  it('warns about new and omitted fields without blocking the save', () => {
    const check = checkConfig(JSON.stringify({ edge: '0.05', size: 10, markets: [], extra: 1 }), current)
    expect(check.value).not.toBeNull()
    expect(check.warnings).toEqual([
      '"extra" is a new field: the API rejects it if the strategy has no such setting',
      '"enabled_sides" is omitted: the strategy\'s default applies',
    ])
  })
})
