// `npm run readme`: writes the README's inputs and outputs tables from action.yml, between the
// marker comments, so the two never disagree. `--check` writes nothing and fails when the README
// is stale (the unit tests run it). action.yml is the one place to describe an input.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Markdown that shows `text` as it is: no emphasis, no HTML tag, no table cell break. */
const escape = (text) => text.replace(/[\\`*_<>[\]|]/g, (c) => `\\${c}`)

/** A default a description states: a value (code), or words when it is a phrase. */
const defaultCell = (value) =>
  /\s/.test(value) && !/[<>/]/.test(value) ? escape(value) : `\`${value}\``

/**
 * One input's row. A description may end with "Default X." (or "; by default X.") for a default
 * that action.yml cannot hold as a value: it goes to the default column.
 */
function inputRow(name, input) {
  let meaning = (input.description ?? '').trim().replace(/\s+/g, ' ')
  let fallback = input.required ? 'required' : ''
  if (input.default !== undefined) fallback = `\`${String(input.default).trim()}\``
  const stated = meaning.match(/^(.*?)(?:[.;] (?:Default|by default) )(.+)\.$/)
  if (stated && input.default === undefined) {
    meaning = `${stated[1]}.`
    fallback = defaultCell(stated[2])
  }
  return `| \`${name}\` | ${fallback} | ${escape(meaning)} |`
}

/** The inputs, one table per group; a group is the comment line above its first input. */
function inputsTables(doc) {
  const inputs = doc.get('inputs')
  const groups = []
  for (const pair of inputs.items) {
    // The yaml library keeps the comment above the first input on the map itself.
    const comment = pair.key.commentBefore ?? (groups.length === 0 ? inputs.commentBefore : '')
    const title = comment?.trim().split('\n').pop()
    if (title || groups.length === 0) groups.push({ title: title || 'Inputs', rows: [] })
    groups.at(-1).rows.push(inputRow(pair.key.value, pair.value.toJSON()))
  }
  return groups
    .map((g) => [`**${g.title}**`, '', '| input | default | meaning |', '|---|---|---|', ...g.rows])
    .map((lines) => lines.join('\n'))
    .join('\n\n')
}

function outputsTable(doc) {
  const outputs = doc.get('outputs').toJSON()
  const rows = Object.entries(outputs).map(
    ([name, o]) => `| \`${name}\` | ${escape(o.description.trim().replace(/\s+/g, ' '))} |`
  )
  return ['| output | meaning |', '|---|---|', ...rows].join('\n')
}

const marker = (name, edge) =>
  edge === 'begin'
    ? `<!-- begin ${name}: written from action.yml by \`npm run readme\`; edit action.yml -->`
    : `<!-- end ${name} -->`

/** The README with its generated regions rendered again from action.yml's text. */
export function renderReadme(readme, actionYml) {
  const doc = parseDocument(actionYml)
  const tables = { inputs: inputsTables(doc), outputs: outputsTable(doc) }
  let text = readme
  for (const [name, table] of Object.entries(tables)) {
    const begin = text.indexOf(marker(name, 'begin'))
    const end = text.indexOf(marker(name, 'end'))
    if (begin < 0 || end < begin) throw new Error(`README.md has no ${name} markers`)
    const head = text.slice(0, begin + marker(name, 'begin').length)
    text = `${head}\n\n${table}\n\n${text.slice(end)}`
  }
  return text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = join(root, 'README.md')
  const readme = readFileSync(path, 'utf8')
  const rendered = renderReadme(readme, readFileSync(join(root, 'action.yml'), 'utf8'))
  if (process.argv.includes('--check')) {
    if (rendered !== readme) {
      console.error(
        'README.md: the inputs or outputs tables differ from action.yml. Run npm run readme.'
      )
      process.exit(1)
    }
  } else if (rendered !== readme) {
    writeFileSync(path, rendered)
    console.log('README.md: tables written from action.yml')
  }
}
