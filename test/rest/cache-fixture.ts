/** A schema cache built in memory (no database) for the pure planner and query tests. */
import { buildRelationships } from '../../src/rest/schema-cache/relationships.ts'
import { relationKey, type Column, type ForeignKey, type Relation, type SchemaCache } from '../../src/rest/schema-cache/types.ts'

function column(name: string, typeName = 'text'): Column {
  return { name, type: typeName, typeName, nullable: true, default: null, generated: false, identity: false, description: null, enumValues: null, maxLength: null }
}

function relation(name: string, columns: string[], primaryKey: string[], kind: Relation['kind'] = 'table'): Relation {
  const cols = columns.map((c) => {
    const [n, t] = c.split(':')
    return column(n!, t)
  })
  return { schema: 'public', name, kind, description: null, columns: cols, columnsByName: new Map(cols.map((c) => [c.name, c])), primaryKey, uniqueKeys: [], insertable: true, updatable: true, deletable: true }
}

const fk = (constraint: string, table: string, columns: string[], refTable: string, refColumns: string[]): ForeignKey => ({ constraint, schema: 'public', table, columns, refSchema: 'public', refTable, refColumns })

export function testCache(): SchemaCache {
  const rels = [
    relation('users', ['username', 'status', 'data:jsonb', 'catchphrase:tsvector'], ['username']),
    relation('messages', ['id:int8', 'message', 'username', 'channel_id:int8'], ['id']),
    relation('channels', ['id:int8', 'slug'], ['id']),
    relation('channel_details', ['id:int8', 'details'], ['id']),
    relation('best_friends', ['id:int8', 'first_user', 'second_user'], ['id']),
    relation('products', ['id:int8', 'name'], ['id']),
    relation('categories', ['id:int8', 'name'], ['id']),
    relation('product_categories', ['product_id:int8', 'category_id:int8'], ['product_id', 'category_id']),
    relation('collections', ['id:int8', 'parent_id:int8'], ['id']),
    relation('active_users', ['username', 'status'], [], 'view'),
  ]
  const relations = new Map(rels.map((r) => [relationKey(r.schema, r.name), r]))
  const fks = [
    fk('messages_username_fkey', 'messages', ['username'], 'users', ['username']),
    fk('messages_channel_id_fkey', 'messages', ['channel_id'], 'channels', ['id']),
    fk('channel_details_id_fkey', 'channel_details', ['id'], 'channels', ['id']),
    fk('best_friends_first_user_fkey', 'best_friends', ['first_user'], 'users', ['username']),
    fk('best_friends_second_user_fkey', 'best_friends', ['second_user'], 'users', ['username']),
    fk('product_categories_product_id_fkey', 'product_categories', ['product_id'], 'products', ['id']),
    fk('product_categories_category_id_fkey', 'product_categories', ['category_id'], 'categories', ['id']),
    fk('collections_parent_id_fkey', 'collections', ['parent_id'], 'collections', ['id']),
  ]
  const baseKeys = new Map(rels.map((r) => [relationKey(r.schema, r.name), { primaryKey: r.primaryKey, uniqueKeys: r.uniqueKeys }]))
  // active_users is a view over users exposing username unchanged.
  const projections = new Map([[relationKey('public', 'users'), [{ view: { schema: 'public', name: 'active_users' }, columns: new Map([['username', 'username'], ['status', 'status']]) }]]])
  return { schemas: ['public'], relations, relationships: buildRelationships(relations, fks, baseKeys, projections), routines: new Map(), loadedAt: new Date() }
}
