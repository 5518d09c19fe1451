// The runner's interface, as the action uses it: inputs, outputs, state for the post step, log
// commands, masking, the job summary. The same behaviour as @actions/core (its tests compare the
// two, byte for byte), without what the action never uses: @actions/core loads an HTTP client
// (undici) for OIDC tokens at import, half of the start-up before the first SSH byte.
import { randomUUID } from 'node:crypto'
import { accessSync, appendFileSync, constants, existsSync } from 'node:fs'
import { EOL } from 'node:os'

/** Where an annotation points, as @actions/core's AnnotationProperties. */
export interface AnnotationProperties {
  title?: string
  file?: string
  startLine?: number
  endLine?: number
  startColumn?: number
  endColumn?: number
}

const commandValue = (value: unknown): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'string'
      ? value
      : JSON.stringify(value)

const escapeData = (value: unknown) =>
  commandValue(value).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')

const escapeProperty = (value: unknown) =>
  escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C')

/** `::name key=value,...::message`, one line on stdout: the runner reads it as a command. */
function issue(name: string, properties: Record<string, unknown>, message: unknown): void {
  const props = Object.entries(properties)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${escapeProperty(value)}`)
    .join(',')
  // A space after the name whenever properties were given, even all empty (as @actions/core).
  const space = Object.keys(properties).length ? ' ' : ''
  process.stdout.write(`::${name}${space}${props}::${escapeData(message)}${EOL}`)
}

/** Appends `key<<delimiter` lines to the runner's file named by GITHUB_<file>. */
function appendKeyValue(file: 'OUTPUT' | 'STATE', key: string, value: unknown): void {
  const path = process.env[`GITHUB_${file}`] as string
  // A random delimiter the value cannot end early (checked, as @actions/core does).
  const delimiter = `ghadelimiter_${randomUUID()}`
  const text = commandValue(value)
  if (key.includes(delimiter) || text.includes(delimiter))
    throw new Error(`Unexpected input: the name or value contains the delimiter "${delimiter}"`)
  if (!existsSync(path)) throw new Error(`Missing file at path: ${path}`)
  appendFileSync(path, `${key}<<${delimiter}${EOL}${text}${EOL}${delimiter}${EOL}`, 'utf8')
}

export function getInput(
  name: string,
  options?: { required?: boolean; trimWhitespace?: boolean }
): string {
  const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || ''
  if (options?.required && !value) throw new Error(`Input required and not supplied: ${name}`)
  return options?.trimWhitespace === false ? value : value.trim()
}

export function setOutput(name: string, value: unknown): void {
  if (process.env.GITHUB_OUTPUT) return appendKeyValue('OUTPUT', name, value)
  process.stdout.write(EOL)
  issue('set-output', { name }, value)
}

/** Kept for the post step, which reads it with getState. */
export function saveState(name: string, value: unknown): void {
  if (process.env.GITHUB_STATE) return appendKeyValue('STATE', name, value)
  issue('save-state', { name }, value)
}

export const getState = (name: string): string => process.env[`STATE_${name}`] || ''

/** The runner replaces the value by *** in the log from here on. */
export const setSecret = (secret: string): void => issue('add-mask', {}, secret)

export const info = (message: string): void => void process.stdout.write(message + EOL)

function annotate(kind: string, message: string | Error, p: AnnotationProperties): void {
  const properties = Object.keys(p).length
    ? {
        title: p.title,
        file: p.file,
        line: p.startLine,
        endLine: p.endLine,
        col: p.startColumn,
        endColumn: p.endColumn
      }
    : {}
  issue(kind, properties, message instanceof Error ? message.toString() : message)
}

export const error = (message: string | Error, properties: AnnotationProperties = {}) =>
  annotate('error', message, properties)
export const warning = (message: string | Error, properties: AnnotationProperties = {}) =>
  annotate('warning', message, properties)
export const notice = (message: string | Error, properties: AnnotationProperties = {}) =>
  annotate('notice', message, properties)

/** Fails the step (exit code 1 when the process ends) with an error annotation. */
export function setFailed(message: string | Error): void {
  process.exitCode = 1
  error(message)
}

/** A foldable group in the log around `body`. */
export async function group<T>(name: string, body: () => Promise<T>): Promise<T> {
  issue('group', {}, name)
  try {
    return await body()
  } finally {
    issue('endgroup', {}, '')
  }
}

/** Appends Markdown to the job summary (the file GITHUB_STEP_SUMMARY names). */
export async function appendSummary(markdown: string): Promise<void> {
  const path = process.env.GITHUB_STEP_SUMMARY
  if (!path)
    throw new Error(
      'Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.'
    )
  try {
    accessSync(path, constants.R_OK | constants.W_OK)
  } catch {
    throw new Error(
      `Unable to access summary file: '${path}'. Check if the file has correct read/write permissions.`
    )
  }
  appendFileSync(path, markdown, 'utf8')
}
