// Strategy instances: list, mode changes (enable / disable / shadow), config edits (validated
// locally, then by the API against the strategy class) and the selected strategy's logs and runs.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { disableStrategy, enableStrategy, listLogs, listRuns, listStrategies, putStrategy, setShadow } from '../api/rest/sdk.gen'
import type { StrategyLogLine, StrategyOut, StrategyRun } from '../api/rest/types.gen'
import { errorText, unwrap } from '../lib/api'
import { debounce } from '../lib/debounce'
import { useConnectionStore } from './connection'

export type Mode = StrategyOut['mode']

export const useStrategiesStore = defineStore('strategies', () => {
  const connection = useConnectionStore()
  const items = ref<StrategyOut[]>([])
  const error = ref('')
  const busy = ref<string | null>(null) // name of the strategy a command is running for
  const logs = ref<StrategyLogLine[]>([])
  const runs = ref<StrategyRun[]>([])
  const logsError = ref('')

  const reloadSoon = debounce(() => void load(), 300)
  connection.want('strategies', ['events'])
  connection.on((message) => {
    // The runner publishes state changes; the executor confirms mode commands.
    if (message.type === 'event' && (message.source === 'runner' || message.event_type === 'command_applied')) reloadSoon()
  })

  async function load(): Promise<void> {
    try {
      items.value = await unwrap(listStrategies())
      error.value = ''
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function setMode(name: string, mode: Mode): Promise<void> {
    busy.value = name
    error.value = ''
    try {
      const path = { name }
      if (mode === 'live') await unwrap(enableStrategy({ path }))
      else if (mode === 'disabled') await unwrap(disableStrategy({ path }))
      else await unwrap(setShadow({ path, query: { on: true } }))
      await load()
    } catch (err) {
      error.value = errorText(err)
    } finally {
      busy.value = null
    }
  }

  /** Save a config; returns the API's complaint (empty when saved). */
  async function saveConfig(name: string, strategyClass: string, config: Record<string, unknown>, enabled: boolean): Promise<string> {
    busy.value = name
    try {
      await unwrap(putStrategy({ path: { name }, body: { strategy_class: strategyClass, config, enabled } }))
      await load()
      return ''
    } catch (err) {
      return errorText(err)
    } finally {
      busy.value = null
    }
  }

  async function loadLogs(name: string, level?: string): Promise<void> {
    logsError.value = ''
    try {
      const query = level ? { level, limit: 200 } : { limit: 200 }
      ;[logs.value, runs.value] = await Promise.all([
        unwrap(listLogs({ path: { name }, query })),
        unwrap(listRuns({ path: { name }, query: { limit: 20 } })),
      ])
    } catch (err) {
      logs.value = []
      runs.value = []
      logsError.value = errorText(err)
    }
  }

  return { items, error, busy, logs, runs, logsError, load, setMode, saveConfig, loadLogs }
})
