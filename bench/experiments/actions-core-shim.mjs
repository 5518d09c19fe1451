// Experiment: the parts of @actions/core the action uses, without @actions/http-client/undici.
import { appendFileSync } from 'node:fs'
import { EOL } from 'node:os'
import { randomUUID } from 'node:crypto'
const esc = (s) =>
  String(s ?? '')
    .replace(/%/g, '%25')
    .replace(/\r/g, '%0D')
    .replace(/\n/g, '%0A')
const escProp = (s) => esc(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
function cmd(name, props, message) {
  const p = Object.entries(props ?? {})
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${escProp(v)}`)
    .join(',')
  process.stdout.write(`::${name}${p ? ' ' + p : ''}::${esc(message)}${EOL}`)
}
function fileCmd(variable, key, value) {
  const d = `ghadelimiter_${randomUUID()}`
  appendFileSync(process.env[variable], `${key}<<${d}${EOL}${value}${EOL}${d}${EOL}`, 'utf8')
}
const props = (p = {}) => ({
  title: p.title,
  file: p.file,
  line: p.startLine,
  endLine: p.endLine,
  col: p.startColumn,
  endColumn: p.endColumn
})
export function getInput(name, options) {
  const v = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || ''
  if (options?.required && !v) throw new Error(`Input required and not supplied: ${name}`)
  return options?.trimWhitespace === false ? v : v.trim()
}
export function setOutput(name, value) {
  const v = typeof value === 'string' ? value : JSON.stringify(value)
  if (process.env.GITHUB_OUTPUT) fileCmd('GITHUB_OUTPUT', name, v)
  else cmd('set-output', { name }, v)
}
export function saveState(name, value) {
  if (process.env.GITHUB_STATE) fileCmd('GITHUB_STATE', name, String(value))
  else cmd('save-state', { name }, String(value))
}
export const getState = (name) => process.env[`STATE_${name}`] || ''
export const setSecret = (secret) => cmd('add-mask', {}, secret)
export const info = (m) => process.stdout.write(m + EOL)
export const debug = (m) => cmd('debug', {}, m)
export const warning = (m, p) => cmd('warning', props(p), m instanceof Error ? m.toString() : m)
export const error = (m, p) => cmd('error', props(p), m instanceof Error ? m.toString() : m)
export const notice = (m, p) => cmd('notice', props(p), m instanceof Error ? m.toString() : m)
export function setFailed(m) {
  process.exitCode = 1
  error(m)
}
export const startGroup = (n) => cmd('group', {}, n)
export const endGroup = () => cmd('endgroup', {}, '')
export async function group(name, fn) {
  startGroup(name)
  try {
    return await fn()
  } finally {
    endGroup()
  }
}
let buffer = ''
export const summary = {
  addRaw(text) {
    buffer += text
    return summary
  },
  async write() {
    appendFileSync(process.env.GITHUB_STEP_SUMMARY, buffer)
    buffer = ''
    return summary
  }
}
