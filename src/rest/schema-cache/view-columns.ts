/**
 * Which base-table column each view column comes from, read from the view's `_RETURN` rule
 * (`pg_rewrite.ev_action`), as PostgREST does. Only the outermost query's target list counts:
 * subqueries in FROM come earlier in the node text and are skipped by depth.
 * @module
 */

export interface ViewColumnSource {
  column: string
  /** oid of the relation the column is read from (0 when computed). */
  sourceOid: number
  sourceAttnum: number
}

/** Parses the node text of a view's rule into its column sources (computed columns dropped). */
export function viewColumnSources(evAction: string): ViewColumnSource[] {
  const targetList = topLevelTargetList(evAction)
  if (!targetList) return []
  const out: ViewColumnSource[] = []
  for (const entry of topLevelNodes(targetList, 'TARGETENTRY')) {
    const fields = ownFields(entry)
    const resname = /:resname ((?:\\.|\S)+)/.exec(fields)?.[1]
    const tbl = Number(/:resorigtbl (\d+)/.exec(fields)?.[1] ?? 0)
    const col = Number(/:resorigcol (\d+)/.exec(fields)?.[1] ?? 0)
    const junk = /:resjunk true/.test(fields)
    if (!resname || resname === '<>' || junk || !tbl || !col) continue
    // Only a plain column reference keeps the base column's identity.
    if (!entry.startsWith('{TARGETENTRY :expr {VAR ')) continue
    out.push({ column: unescapeNodeString(resname), sourceOid: tbl, sourceAttnum: col })
  }
  return out
}

function unescapeNodeString(s: string): string {
  return s.replace(/\\(.)/g, '$1')
}

/** The text of the `:targetList (...)` of the outermost QUERY node. */
function topLevelTargetList(text: string): string | undefined {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\\') {
      i++
      continue
    }
    if (ch === '{' || ch === '(') depth++
    else if (ch === '}' || ch === ')') depth--
    // The rule text is `({QUERY ...})`: the query's own fields sit at depth 2.
    else if (depth === 2 && text.startsWith(':targetList ', i)) {
      const start = i + ':targetList '.length
      const end = matchingClose(text, start)
      return end === -1 ? undefined : text.slice(start, end + 1)
    }
  }
  return undefined
}

function matchingClose(text: string, start: number): number {
  if (text[start] !== '(') return -1
  let depth = 0
  for (let i = start; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\\') {
      i++
      continue
    }
    if (ch === '(' || ch === '{') depth++
    else if (ch === ')' || ch === '}') {
      depth--
      if (depth === 0) return i
    }
  }
  return -1
}

/** `{NAME ...}` nodes directly inside a list. */
function topLevelNodes(list: string, name: string): string[] {
  const nodes: string[] = []
  let depth = 0
  let start = -1
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]
    if (ch === '\\') {
      i++
      continue
    }
    if (ch === '{' || ch === '(') {
      if (depth === 1 && ch === '{' && list.startsWith(`{${name} `, i)) start = i
      depth++
    } else if (ch === '}' || ch === ')') {
      depth--
      if (depth === 1 && start !== -1) {
        nodes.push(list.slice(start, i + 1))
        start = -1
      }
    }
  }
  return nodes
}

/** The node's text with nested nodes removed, so field regexes only see its own fields. */
function ownFields(node: string): string {
  let depth = 0
  let out = ''
  for (let i = 0; i < node.length; i++) {
    const ch = node[i]
    if (ch === '\\') {
      if (depth <= 1) out += node.slice(i, i + 2)
      i++
      continue
    }
    if (ch === '{' || ch === '(') depth++
    if (depth <= 1) out += ch
    if (ch === '}' || ch === ')') depth--
  }
  return out
}
