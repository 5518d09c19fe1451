// The nginx-directives input as nginx will read it inside the site's server block.

/** Lines as the site will hold them (render/nginx.ts trims their ends), so what is checked is what nginx reads. */
export function normaliseDirectives(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim()
}

const blank = (c: string) => c === ' ' || c === '\t' || c === '\n'

/** Where nginx's reader is in the text, one character at a time. */
class BlockReader {
  depth = 0
  words = 0 // words of the directive being read
  wordStart = true
  needSpace = false // right after a closing quote
  escaped = false
  quote = ''
  comment = false
  variable = false

  /** Takes one character; returns a problem, or undefined to go on. */
  read(c: string): string | undefined {
    if (c === '\n') this.comment = false
    if (this.comment) return undefined
    if (this.escaped) {
      this.escaped = false
      return undefined
    }
    if (this.needSpace && this.afterQuote(c)) return undefined
    if (this.wordStart) return this.betweenWords(c)
    this.inWord(c)
    return undefined
  }

  /** The text has ended: a problem, or undefined when it is complete. */
  end(): string | undefined {
    if (this.quote) return 'has an unclosed quote'
    if (this.escaped || !this.wordStart || this.needSpace || this.words > 0)
      return "must end with ';' or '}' (a directive is not finished)"
    if (this.depth !== 0) return "has a '{' that is never closed"
    return undefined
  }

  /** Right after a closing quote: true when `c` is taken here. */
  private afterQuote(c: string): boolean {
    this.needSpace = false
    this.wordStart = true
    if (blank(c)) return true
    if (c === ';' || c === '{') {
      this.endDirective(c)
      return true
    }
    // nginx refuses anything else but ')' here; `nginx -t` reports it.
    return false
  }

  private endDirective(c: ';' | '{'): void {
    if (c === '{') this.depth++
    this.words = 0
  }

  private betweenWords(c: string): string | undefined {
    if (blank(c)) return undefined
    if (c === ';' || c === '{') {
      if (this.words === 0) return `has a '${c}' with no directive before it`
      this.endDirective(c)
      return undefined
    }
    if (c === '}') {
      if (this.words > 0) return "has a '}' after a directive that is not finished (a missing ';'?)"
      if (--this.depth < 0) return "has a '}' that closes more blocks than it opens"
      return undefined
    }
    if (c === '#') {
      this.comment = true
      return undefined
    }
    this.wordStart = false
    if (c === '\\') this.escaped = true
    else if (c === '"' || c === "'") this.quote = c
    else if (c === '$') this.variable = true
    return undefined
  }

  private inWord(c: string): void {
    if (c === '{' && this.variable) return
    this.variable = false
    if (c === '\\') {
      this.escaped = true
      return
    }
    if (c === '$') {
      this.variable = true
      return
    }
    if (this.quote) {
      if (c === this.quote) {
        this.quote = ''
        this.needSpace = true
        this.words++
      }
      return
    }
    if (blank(c) || c === ';' || c === '{') {
      this.wordStart = true
      this.words++
      if (c === ';' || c === '{') this.endDirective(c)
    }
  }
}

/**
 * Follows the blocks as nginx's own reader (ngx_conf_read_token) does. The text goes inside our
 * server block: it may open and close blocks of its own, but must never close ours (a stray `}`
 * would let it write directives outside the site). As in nginx, a quote or `#` starts a string or
 * a comment only at the start of a word, `\` escapes the next character, and `{` `}` `;` inside
 * a word or a string are plain characters.
 */
export function nginxBlockProblem(text: string): string | undefined {
  const reader = new BlockReader()
  for (const c of text) {
    const problem = reader.read(c)
    if (problem) return problem
  }
  return reader.end()
}
