// Every link a reader can follow in the project's Markdown leads somewhere: a relative link names
// a file or folder of the repository, and an #anchor names a heading of its page, as GitHub
// makes heading ids (github-slugger). External links (https:, mailto:) are not fetched.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import GithubSlugger from 'github-slugger'
import { marked, type Token, type Tokens } from 'marked'
import { ROOT } from '../test/e2e/action.js'

/** What a page's links may point at: the repository's files, read by their repository path. */
interface Repo {
  exists(path: string): boolean
  read(path: string): string
}

const disk: Repo = {
  exists: (path) => existsSync(join(ROOT, path)),
  read: (path) => readFileSync(join(ROOT, path), 'utf8')
}

/** The places a token holds other tokens: its text, a list's items, a table's cells. */
interface Nested {
  tokens?: Token[]
  items?: Token[]
  header?: Tokens.TableCell[]
  rows?: Tokens.TableCell[][]
}

/** Every token of a page, nested ones included (list items, table cells, link text). */
function* walk(tokens: Token[]): Generator<Token> {
  for (const token of tokens) {
    yield token
    const t = token as Nested
    if (t.tokens) yield* walk(t.tokens)
    if (t.items) yield* walk(t.items)
    for (const cell of [...(t.header ?? []), ...(t.rows ?? []).flat()]) yield* walk(cell.tokens)
  }
}

/** A heading's text as GitHub reads it for its id: the words, without the Markdown around them. */
function plainText(tokens: Token[]): string {
  return tokens
    .map((token) => {
      const t = token as Tokens.Generic
      if (t.type === 'html') return ''
      if (t.tokens && t.type !== 'codespan') return plainText(t.tokens)
      return (t.text as string | undefined) ?? ''
    })
    .join('')
}

/** The ids GitHub gives a page's headings (a repeated heading gets -1, -2...). */
export function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger()
  const anchors = new Set<string>()
  for (const token of walk(marked.lexer(markdown)))
    if (token.type === 'heading') anchors.add(slugger.slug(plainText(token.tokens ?? [])))
  return anchors
}

const external = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i

/** What is wrong with the relative links of one page (a repository path), one line per link. */
export function linkProblems(file: string, markdown: string, repo: Repo): string[] {
  const problems: string[] = []
  for (const token of walk(marked.lexer(markdown))) {
    if (token.type !== 'link' && token.type !== 'image') continue
    const href = (token as Tokens.Link).href
    if (external.test(href)) continue
    const [path, anchor] = href.split('#', 2) as [string, string | undefined]
    const target =
      path === ''
        ? file
        : normalize(path.startsWith('/') ? path.slice(1) : join(dirname(file), decodeURI(path)))
    if (path !== '' && (target.startsWith('..') || !repo.exists(target))) {
      problems.push(`${file}: ${href}: no file ${target}`)
      continue
    }
    if (!anchor) continue
    const page = target === file ? markdown : target.endsWith('.md') ? repo.read(target) : undefined
    if (page === undefined) {
      if (!/^L\d+(-L\d+)?$/.test(anchor))
        problems.push(`${file}: ${href}: ${target} has no headings`)
    } else if (!anchorsOf(page).has(decodeURIComponent(anchor))) {
      problems.push(`${file}: ${href}: no heading #${anchor} in ${target}`)
    }
  }
  return problems
}

/** The pages a reader of the project reads: the README, docs/, and the guides beside them. */
function pages(): string[] {
  const docs = (folder: string): string[] =>
    readdirSync(join(ROOT, folder)).flatMap((name) => {
      const path = `${folder}/${name}`
      if (statSync(join(ROOT, path)).isDirectory()) return docs(path)
      return name.endsWith('.md') ? [path] : []
    })
  return ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'ARCHITECTURE.md', ...docs('docs')]
}

describe('links in the Markdown pages', () => {
  test('the pages are there', () => {
    expect(pages()).toEqual(
      expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/how-it-works.md'])
    )
  })

  test.each(pages())('%s: every relative link and anchor resolves', (file) => {
    expect(linkProblems(file, disk.read(file), disk)).toEqual([])
  })
})

describe('the link check', () => {
  test('anchors are the ids GitHub gives headings', () => {
    const page = [
      '# Title',
      '## HTTPS with `tls: auto`',
      "## Debian 12's uvicorn",
      '## Fingerprints instead of known_hosts lines',
      '## Usage',
      '## Usage'
    ].join('\n\n')
    expect([...anchorsOf(page)]).toEqual([
      'title',
      'https-with-tls-auto',
      'debian-12s-uvicorn',
      'fingerprints-instead-of-known_hosts-lines',
      'usage',
      'usage-1'
    ])
  })

  test('finds a missing file, a missing heading on this page or another, in text, lists and tables', () => {
    const page = [
      '# Broken',
      '## Here',
      'Good: [readme](../README.md#inputs), [here](#here), [docs](./), [code](../action.yml),',
      '[a site](https://example.com/nowhere), [line](../action.yml#L3).',
      '',
      '- [gone](gone.md)',
      '- [no heading](../README.md#no-such-heading)',
      '',
      '| a | b |',
      '|---|---|',
      '| [not here](#nowhere) | ![picture](missing.png) |',
      '',
      '[outside](../../elsewhere.md) and [a file anchor](../action.yml#inputs)'
    ].join('\n')
    expect(linkProblems('docs/broken.md', page, disk)).toEqual([
      'docs/broken.md: gone.md: no file docs/gone.md',
      'docs/broken.md: ../README.md#no-such-heading: no heading #no-such-heading in README.md',
      'docs/broken.md: #nowhere: no heading #nowhere in docs/broken.md',
      'docs/broken.md: missing.png: no file docs/missing.png',
      'docs/broken.md: ../../elsewhere.md: no file ../elsewhere.md',
      'docs/broken.md: ../action.yml#inputs: action.yml has no headings'
    ])
  })
})
