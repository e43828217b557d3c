/**
 * The types a `select` or `order` cast may name (`id::text`). Request text never reaches SQL as
 * a type name: it is looked up here and the canonical spelling from this table is used.
 * @module
 */
import { pgrstError } from '../errors.ts'

const CASTS: Record<string, string> = {
  text: 'text', varchar: 'varchar', char: 'char', bpchar: 'bpchar', name: 'name', citext: 'text',
  int: 'int4', int2: 'int2', int4: 'int4', int8: 'int8', integer: 'int4', smallint: 'int2', bigint: 'int8',
  numeric: 'numeric', decimal: 'numeric', real: 'float4', float: 'float8', float4: 'float4', float8: 'float8', double: 'float8',
  bool: 'bool', boolean: 'bool',
  json: 'json', jsonb: 'jsonb',
  date: 'date', time: 'time', timetz: 'timetz', timestamp: 'timestamp', timestamptz: 'timestamptz', interval: 'interval',
  uuid: 'uuid', money: 'money', inet: 'inet', cidr: 'cidr', macaddr: 'macaddr', bytea: 'bytea', oid: 'oid',
  int4range: 'int4range', int8range: 'int8range', numrange: 'numrange', tsrange: 'tsrange', tstzrange: 'tstzrange', daterange: 'daterange',
  tsvector: 'tsvector', tsquery: 'tsquery', xml: 'xml',
}

/** The SQL spelling of an allowed cast; arrays (`text[]`) of allowed types are allowed. */
export function castType(requested: string): string {
  const lower = requested.toLowerCase()
  const array = lower.endsWith('[]')
  const base = array ? lower.slice(0, -2) : lower
  const known = CASTS[base]
  if (!known || base.includes('[')) {
    throw pgrstError(400, '42704', `type "${requested}" does not exist`)
  }
  return array ? `${known}[]` : known
}
