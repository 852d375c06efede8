// Risk: limits, how close the book is to them, and the kill switch. Refreshed when the executor
// announces a halt or applies a command, so a kill switch flipped elsewhere (CLI, notebook) shows,
// and when positions change (a fill, settlement or reversal moves exposure and daily PnL).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { getRiskState, setKillSwitch, setLimit } from '../api/rest/sdk.gen'
import type { RiskLimitChange, RiskStateOut } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { debounce } from '../lib/debounce'
import { changesPositions } from '../lib/position-events'
import { useConnectionStore } from './connection'

export type LimitName = RiskLimitChange['name']

const RISK_EVENTS = ['risk_halt', 'command_applied']

export const useRiskStore = defineStore('risk', () => {
  const connection = useConnectionStore()
  const state = ref<RiskStateOut | null>(null)
  const error = ref('')
  const busy = ref(false)

  const reloadSoon = debounce(() => void load(), 250)
  connection.want('risk', ['events'])
  connection.on((message) => {
    if (changesPositions(message) || (message.type === 'event' && RISK_EVENTS.includes(message.event_type))) reloadSoon()
  })

  async function load(): Promise<void> {
    try {
      state.value = await unwrap(getRiskState())
      error.value = ''
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function run(action: () => Promise<unknown>): Promise<boolean> {
    busy.value = true
    error.value = ''
    try {
      await action()
      await load()
      return true
    } catch (err) {
      error.value = errorText(err)
      return false
    } finally {
      busy.value = false
    }
  }

  function killSwitch(on: boolean, reason: string): Promise<boolean> {
    return run(() => unwrap(setKillSwitch({ body: { on, reason } })))
  }

  function changeLimit(name: LimitName, value: string): Promise<boolean> {
    return run(() => unwrap(setLimit({ body: { name, value } })))
  }

  return { state, error, busy, load, killSwitch, changeLimit }
})
