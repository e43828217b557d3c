// The `layers/floors` lint rule: an import in src/ may go down the floors, never up, and an API
// family never imports another. Written for this repository (resolving our relative imports is a
// few lines, and the messages can say what to do instead); the floors themselves are in
// eslint.config.js and described in docs/architecture.md.
import path from 'node:path'

/**
 * The top-level unit of a path under src/: its first folder, or the file itself (`app.ts`).
 * Undefined outside src/.
 */
function unitOf(srcDir, file) {
  const relative = path.relative(srcDir, file)
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined
  return relative.split(path.sep)[0]
}

/** An import written only for types: erased at build, so it adds no runtime dependency. */
function typeOnly(node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true
  const specifiers = node.specifiers ?? []
  return specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type')
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports in src/ go down the floors (docs/architecture.md), never up or across API families' },
    schema: [
      {
        type: 'object',
        properties: {
          /** Floors top to bottom; each lists the units on it (a src/ folder, or a file like `app.ts`). */
          floors: { type: 'array', items: { type: 'object', properties: { units: { type: 'array', items: { type: 'string' } }, isolated: { type: 'boolean' } }, required: ['units'], additionalProperties: false } },
          /** Units a lower floor may import for types only (the contract handed down, e.g. `services.ts`). */
          typeOnlyFromBelow: { type: 'array', items: { type: 'string' } },
        },
        required: ['floors'],
        additionalProperties: false,
      },
    ],
    messages: {
      uphill: "'{{from}}' (floor {{fromFloor}}) must not import '{{to}}' (floor {{toFloor}}, higher): move what both need down a floor, or pass it in from above.",
      across: "API family '{{from}}' must not import another family's module '{{to}}': move what both need down to http/, jwt/, config/ or db/.",
      noFloor: "'{{unit}}' is on no floor: add it to the floors in eslint.config.js (and to docs/architecture.md).",
    },
  },
  create(context) {
    const { floors, typeOnlyFromBelow = [] } = context.options[0]
    const floorOf = new Map(floors.flatMap((floor, index) => floor.units.map((unit) => [unit, index])))
    const srcDir = path.join(context.cwd, 'src')
    const from = unitOf(srcDir, context.filename)
    if (from === undefined) return {}
    if (!floorOf.has(from)) {
      return { Program: (node) => context.report({ node, messageId: 'noFloor', data: { unit: from } }) }
    }
    const fromFloor = floorOf.get(from)

    function check(node, source) {
      if (!source || typeof source.value !== 'string' || !source.value.startsWith('.')) return
      const to = unitOf(srcDir, path.resolve(path.dirname(context.filename), source.value))
      if (to === undefined || to === from) return
      if (!floorOf.has(to)) return context.report({ node: source, messageId: 'noFloor', data: { unit: to } })
      const toFloor = floorOf.get(to)
      const data = { from, to, fromFloor: String(fromFloor + 1), toFloor: String(toFloor + 1) }
      if (toFloor < fromFloor) {
        if (typeOnlyFromBelow.includes(to) && typeOnly(node)) return
        context.report({ node: source, messageId: 'uphill', data })
      } else if (toFloor === fromFloor && floors[fromFloor].isolated) {
        context.report({ node: source, messageId: 'across', data })
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : undefined),
    }
  },
}

export default { rules: { floors: rule } }
