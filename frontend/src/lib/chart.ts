// Geometry for the hand-rolled SVG charts. A charting library (plotly.js-dist-min is ~1.4 MB
// minified) would dwarf the rest of the app (~100 kB); lines and bars need only this.

export interface Point {
  t: number
  v: number
}

export interface Scale {
  min: number
  max: number
}

/** Value range with a little headroom; a flat series gets a visible band around its value. */
export function valueScale(values: number[]): Scale {
  if (!values.length) return { min: 0, max: 1 }
  let min = Math.min(...values)
  let max = Math.max(...values)
  if (max - min < 1e-9) {
    const pad = Math.abs(max) * 0.05 || 0.01
    return { min: min - pad, max: max + pad }
  }
  const pad = (max - min) * 0.05
  min -= pad
  max += pad
  return { min, max }
}

/** SVG path data for a line through `points` (time on x) inside a width × height box. */
export function linePath(points: Point[], width: number, height: number): string {
  if (!points.length) return ''
  const t0 = points[0]!.t
  const span = points[points.length - 1]!.t - t0 || 1
  const { min, max } = valueScale(points.map((p) => p.v))
  const x = (t: number) => (points.length === 1 ? width / 2 : ((t - t0) / span) * width)
  const y = (v: number) => height - ((v - min) / (max - min)) * height
  return points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')
}

export interface Bar {
  x: number
  y: number
  width: number
  height: number
  negative: boolean
}

/** Bars around a zero line: positive values rise from it, negative ones hang below. */
export function bars(values: number[], width: number, height: number): { bars: Bar[]; zeroY: number } {
  const lo = Math.min(0, ...values)
  const hi = Math.max(0, ...values)
  const range = hi - lo || 1
  const slot = values.length ? width / values.length : width
  const zeroY = (hi / range) * height
  return {
    zeroY,
    bars: values.map((v, i) => {
      const h = (Math.abs(v) / range) * height
      return { x: i * slot + slot * 0.1, width: slot * 0.8, y: v >= 0 ? zeroY - h : zeroY, height: h, negative: v < 0 }
    }),
  }
}
