/**
 * `order=a.desc.nullslast,data->>x,author(name).asc`.
 * @module
 */
import { Cursor, identifier, jsonPath } from './cursor.ts'
import type { OrderTerm } from './types.ts'

export function parseOrder(text: string): OrderTerm[] {
  const cursor = new Cursor(text, 'order')
  const terms = [orderTerm(cursor)]
  while (cursor.eat(',')) terms.push(orderTerm(cursor))
  if (!cursor.done) cursor.fail('"," or end of input')
  return terms
}

function orderTerm(cursor: Cursor): OrderTerm {
  const name = identifier(cursor)
  let term: OrderTerm
  if (cursor.eat('(')) {
    const column = identifier(cursor)
    term = { relation: name, field: { name: column, jsonPath: jsonPath(cursor) } }
    cursor.expect(')')
  } else {
    term = { field: { name, jsonPath: jsonPath(cursor) } }
  }
  while (cursor.eat('.')) {
    if (cursor.eat('asc')) term.direction = 'asc'
    else if (cursor.eat('desc')) term.direction = 'desc'
    else if (cursor.eat('nullsfirst')) term.nulls = 'first'
    else if (cursor.eat('nullslast')) term.nulls = 'last'
    else cursor.fail('"asc", "desc", "nullsfirst" or "nullslast"')
  }
  return term
}
