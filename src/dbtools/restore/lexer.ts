/**
 * Just enough of psql's lexer to know, line by line, whether we stand between statements:
 * quotes, dollar quotes, comments, parentheses and `BEGIN ATOMIC` bodies. It finds statement
 * ends (top-level `;`) so the reader can cut batches and spot `COPY … FROM stdin`; the statements
 * themselves are split and understood by libpg_query.
 * @module
 */

export interface LexState {
  mode: 'normal' | 'single' | 'estring' | 'dquote' | 'dollar' | 'block'
  dollarTag: string
  blockDepth: number
  parenDepth: number
  /** `BEGIN ATOMIC … END` nesting (SQL-standard function bodies), with CASE … END inside. */
  atomicDepth: number
  /** A statement has started (non-blank, non-comment text since the last `;`). */
  open: boolean
  firstWord: string
  previousWord: string
  /** Line where the current quote or comment began, for "file ends inside …" errors. */
  modeLine: number
}

export function initialLexState(): LexState {
  return { mode: 'normal', dollarTag: '', blockDepth: 0, parenDepth: 0, atomicDepth: 0, open: false, firstWord: '', previousWord: '', modeLine: 0 }
}

export interface StatementEnd {
  /** Index in the line just after the `;`. */
  end: number
  firstWord: string
}

export interface LineScan {
  /** Column where a statement started on this line (first one), if any. */
  starts: number[]
  ends: StatementEnd[]
}

const isIdentStart = (c: string) => {
  const code = c.charCodeAt(0)
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code > 127
}
const isIdentChar = (c: string) => {
  const code = c.charCodeAt(0)
  return isIdentStart(c) || (code >= 48 && code <= 57) || code === 36
}
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/

/** Advances `state` over one line (without its newline); reports statement starts and ends. */
export function scanLine(line: string, state: LexState, lineNumber: number): LineScan {
  const scan: LineScan = { starts: [], ends: [] }
  let i = 0
  // Each call runs until the mode changes or the line ends, so the calls are per token, not per character.
  while (i < line.length) i = state.mode === 'normal' ? scanNormal(line, i, state, lineNumber, scan) : skipQuoted(line, i, state)
  return scan
}

/**
 * Inside a quote, dollar quote or block comment: returns the index just past its end (the mode
 * back to normal), or the line's length when it goes on past this line.
 */
function skipQuoted(line: string, i: number, state: LexState): number {
  const n = line.length
  switch (state.mode) {
    case 'single': {
      for (;;) {
        const close = line.indexOf("'", i)
        if (close === -1) return n
        if (line[close + 1] !== "'") {
          state.mode = 'normal'
          return close + 1
        }
        i = close + 2
      }
    }
    case 'estring': {
      while (i < n) {
        const c = line[i]
        if (c === '\\') i += 2
        else if (c === "'") {
          if (line[i + 1] !== "'") {
            state.mode = 'normal'
            return i + 1
          }
          i += 2
        } else i += 1
      }
      return i
    }
    case 'dquote': {
      const close = line.indexOf('"', i)
      if (close === -1) return n
      state.mode = 'normal'
      return close + 1
    }
    case 'dollar': {
      const close = line.indexOf(state.dollarTag, i)
      if (close === -1) return n
      state.mode = 'normal'
      return close + state.dollarTag.length
    }
    case 'block': {
      while (i < n) {
        const c = line[i]
        if (c === '*' && line[i + 1] === '/') {
          state.blockDepth -= 1
          i += 2
          if (state.blockDepth === 0) {
            state.mode = 'normal'
            return i
          }
        } else if (c === '/' && line[i + 1] === '*') {
          state.blockDepth += 1
          i += 2
        } else i += 1
      }
      return i
    }
    case 'normal':
      return i
  }
}

/**
 * Outside quotes and comments: tracks words, parentheses and `BEGIN ATOMIC`, records statement
 * starts and top-level `;` ends. Returns where a quote or comment begins (mode switched), or
 * the line's length.
 */
function scanNormal(line: string, i: number, state: LexState, lineNumber: number, scan: LineScan): number {
  const n = line.length
  while (i < n) {
    const c = line[i]!
    if (c === '-' && line[i + 1] === '-') return n
    if (c === '/' && line[i + 1] === '*') {
      state.mode = 'block'
      state.blockDepth = 1
      state.modeLine = lineNumber
      return i + 2
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i += 1
      continue
    }
    if (!state.open) {
      state.open = true
      state.firstWord = ''
      state.previousWord = ''
      scan.starts.push(i)
    }
    if (c === "'") {
      const prev = line[i - 1]
      const prevPrev = line[i - 2]
      state.mode = (prev === 'E' || prev === 'e') && !(prevPrev && isIdentChar(prevPrev)) ? 'estring' : 'single'
      state.modeLine = lineNumber
      return i + 1
    }
    if (c === '"') {
      state.mode = 'dquote'
      state.modeLine = lineNumber
      return i + 1
    }
    if (c === '$' && !(i > 0 && isIdentChar(line[i - 1]!))) {
      const tag = DOLLAR_TAG.exec(line.slice(i, i + 64))
      if (tag) {
        state.mode = 'dollar'
        state.dollarTag = tag[0]
        state.modeLine = lineNumber
        return i + tag[0].length
      }
    }
    if (c === '(') state.parenDepth += 1
    else if (c === ')') state.parenDepth = Math.max(0, state.parenDepth - 1)
    else if (c === ';' && state.parenDepth === 0 && state.atomicDepth === 0) {
      scan.ends.push({ end: i + 1, firstWord: state.firstWord })
      state.open = false
      i += 1
      continue
    } else if (isIdentStart(c)) {
      let j = i + 1
      while (j < n && isIdentChar(line[j]!)) j += 1
      const word = line.slice(i, j).toUpperCase()
      if (!state.firstWord) state.firstWord = word
      trackAtomic(state, word)
      state.previousWord = word
      i = j
      continue
    }
    i += 1
  }
  return n
}

function trackAtomic(state: LexState, word: string): void {
  if (state.firstWord !== 'CREATE') return
  if (word === 'ATOMIC' && state.previousWord === 'BEGIN') state.atomicDepth += 1
  else if (state.atomicDepth > 0 && word === 'CASE') state.atomicDepth += 1
  else if (state.atomicDepth > 0 && word === 'END') state.atomicDepth -= 1
}

export function describeMode(state: LexState): string {
  switch (state.mode) {
    case 'single':
    case 'estring':
      return 'a quoted string'
    case 'dquote':
      return 'a quoted identifier'
    case 'dollar':
      return `a dollar-quoted body (${state.dollarTag})`
    case 'block':
      return 'a /* comment */'
    default:
      return 'a statement'
  }
}
