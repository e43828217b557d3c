/**
 * Finds the relationship an embed means: by target name (or a legacy FK column), narrowed by a
 * hint (constraint, column or junction name). None → PGRST200, several → PGRST201 (300).
 * @module
 */
import { pgrstError } from '../errors.ts'
import { relationKey, type Relation, type Relationship, type SchemaCache } from '../schema-cache/types.ts'

/** A foreign key from a table to itself (collections.parent_id → collections.id). */
const isSelf = (r: Relationship) => !r.computed && !r.junction && r.source.schema === r.target.schema && r.source.name === r.target.name

function matchesHint(r: Relationship, hint: string): boolean {
  // As in PostgREST, a self-reference is not found by its constraint name, only by its column.
  if (r.constraint === hint) return !isSelf(r)
  if (r.junction) {
    return r.junction.relation.name === hint || r.junction.sourceConstraint === hint || r.junction.targetConstraint === hint
  }
  // A column of the foreign key: on the source side for to-one, on the target side for to-many.
  const fkColumns = r.cardinality === 'one-to-many' ? r.targetColumns : r.cardinality === 'many-to-one' ? r.sourceColumns : [...r.sourceColumns, ...r.targetColumns]
  return fkColumns.length === 1 && fkColumns[0] === hint
}

function describe(r: Relationship): { cardinality: string; embedding: string; relationship: string } {
  const cols = (c: string[]) => c.join(', ')
  const relationship = r.junction
    ? `${r.junction.relation.name} using ${r.junction.sourceConstraint}(${cols(r.junction.sourceJoin)}) and ${r.junction.targetConstraint}(${cols(r.junction.targetJoin)})`
    : `${r.constraint} using ${r.source.name}(${cols(r.sourceColumns)}) and ${r.target.name}(${cols(r.targetColumns)})`
  return { cardinality: r.cardinality, embedding: `${r.source.name} with ${r.target.name}`, relationship }
}

function similarity(a: string, b: string): number {
  // Dice coefficient over bigrams: cheap and good enough for "did you mean".
  const grams = (s: string) => new Set(Array.from({ length: Math.max(s.length - 1, 0) }, (_, i) => s.slice(i, i + 2)))
  const ga = grams(a)
  const gb = grams(b)
  if (!ga.size || !gb.size) return a === b ? 1 : 0
  let common = 0
  for (const g of ga) if (gb.has(g)) common++
  return (2 * common) / (ga.size + gb.size)
}

export function closest(name: string, candidates: Iterable<string>, threshold = 0.5): string | undefined {
  let best: string | undefined
  let bestScore = threshold
  for (const c of candidates) {
    const score = similarity(name.toLowerCase(), c.toLowerCase())
    if (score > bestScore) {
      best = c
      bestScore = score
    }
  }
  return best
}

export function findRelationship(cache: SchemaCache, source: Relation, targetName: string, hint: string | undefined): Relationship {
  const all = cache.relationships.get(relationKey(source.schema, source.name)) ?? []
  // A computed relationship goes by its function's name; it wins over a table of that name.
  const computed = all.filter((r) => r.computed?.name === targetName)
  let candidates = computed.length ? computed : all.filter((r) => !r.computed && r.target.name === targetName)
  // By the table's name a self-reference is its to-many side (the children); the to-one side (the
  // parent) goes by the foreign key column, `parent_id(*)`, as in PostgREST.
  candidates = candidates.filter((r) => !(isSelf(r) && r.cardinality === 'many-to-one'))
  // A foreign key's name stands for the table it joins (not the views over it that share it):
  // `select=best_friends_first_user_fkey(*)`.
  if (candidates.length === 0) {
    const isView = (r: Relationship) => cache.relations.get(relationKey(r.target.schema, r.target.name))?.kind.endsWith('view') ?? false
    candidates = all.filter((r) => !r.computed && !r.junction && !isSelf(r) && r.constraint === targetName && !isView(r))
  }
  const sameSchema = candidates.filter((r) => r.target.schema === source.schema)
  if (sameSchema.length) candidates = sameSchema
  let legacyColumn = false
  if (candidates.length === 0) {
    // Legacy: `select=*,author_id(*)` names the FK column.
    candidates = all.filter((r) => !r.computed && (r.cardinality === 'many-to-one' || r.cardinality === 'one-to-one') && r.sourceColumns.length === 1 && r.sourceColumns[0] === targetName)
    legacyColumn = candidates.length > 0
  }
  if (hint !== undefined) candidates = candidates.filter((r) => matchesHint(r, hint))
  if (candidates.length === 0) {
    const hintText = hint === undefined ? '' : ` using the hint '${hint}'`
    const suggestion = hint === undefined ? closest(targetName, new Set(all.filter((r) => !r.computed).map((r) => r.target.name))) : undefined
    throw pgrstError(
      400,
      'PGRST200',
      `Could not find a relationship between '${source.name}' and '${targetName}' in the schema cache`,
      `Searched for a foreign key relationship between '${source.name}' and '${targetName}'${hintText} in the schema '${source.schema}', but no matches were found.`,
      suggestion ? `Perhaps you meant '${suggestion}' instead of '${targetName}'.` : null,
    )
  }
  if (candidates.length > 1 && !legacyColumn) {
    const options = candidates.map((r) => `'${targetName}!${r.junction ? r.junction.relation.name : r.constraint}'`)
    throw pgrstError(
      300,
      'PGRST201',
      `Could not embed because more than one relationship was found for '${source.name}' and '${targetName}'`,
      candidates.map(describe),
      `Try changing '${targetName}' to one of the following: ${options.join(', ')}. Find the desired relationship in the 'details' key.`,
    )
  }
  return candidates[0]!
}
