/**
 * Statements written as one extended-protocol pipeline closed by a single Sync: PostgreSQL runs
 * them as one implicit transaction, committed at the Sync (an error rolls it back and skips the
 * rest), so a one-statement request needs neither BEGIN nor COMMIT — one ReadyForQuery instead
 * of four, and two statements fewer for the backend. A `pg.Query` to the client (its pipeline
 * mode refuses other custom queries), answered with every statement's result, or the first error.
 * @module
 */
import pg from 'pg'

export interface ChainStatement {
  text: string
  values: readonly unknown[]
  /** Kept prepared on the connection under this name. */
  name?: string
}

/** The parts of pg's connection a query writes to (pg/lib/connection.js). */
interface Connection {
  parse(query: { text: string; name: string; types: number[] }): void
  bind(config: { portal: string; statement: string; values: unknown[] }): void
  describe(config: { type: 'P'; name: string }): void
  execute(config: { portal: string; rows: number }): void
  sync(): void
  sendCopyFail(message: string): void
  parsedStatements: Record<string, string>
  submittedNamedStatements: Record<string, string>
  on(event: 'parseComplete', listener: () => void): void
  removeListener(event: 'parseComplete', listener: () => void): void
}

type Callback = (error: Error | null, results?: pg.QueryResult[]) => void

/** pg's Result (pg/lib/result.js), filled message by message. */
interface ResultParts extends pg.QueryResult {
  addFields(fields: unknown): void
  addRow(row: unknown): void
  parseRow(fields: unknown): unknown
  addCommandComplete(message: unknown): void
}

const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils
const QueryBase = pg.Query as unknown as new (config: { text: string }) => { callback?: Callback; _result: { _types?: unknown } }

export class ChainedQuery extends QueryBase {
  /** Settles once the Sync's ReadyForQuery (or an error) arrived. */
  readonly done: Promise<pg.QueryResult[]>
  readonly #statements: readonly ChainStatement[]
  #results: ResultParts[] = []
  #current = 0
  /** The name of each Parse sent ('' for an unnamed statement), in order: ParseCompletes answer them in that order. */
  #parses: Array<{ name: string; text: string }> = []
  #parsed = 0
  #connection: Connection | undefined
  readonly #onParse = () => {
    this.#parsed++
  }

  constructor(statements: readonly ChainStatement[]) {
    super({ text: statements.map((s) => s.text).join('; ') })
    this.#statements = statements
    this.done = new Promise((resolve, reject) => {
      // pg may wrap it (query_timeout), so the handlers call whatever `callback` is then.
      this.callback = (error, results) => (error ? reject(error) : resolve(results!))
    })
  }

  submit(connection: Connection): Error | null {
    let values: unknown[][]
    try {
      values = this.#statements.map((st) => st.values.map(prepareValue))
    } catch (error) {
      return error as Error
    }
    this.#connection = connection
    connection.on('parseComplete', this.#onParse)
    const Result = (pg as unknown as { Result: new (rowMode: undefined, types: unknown) => ResultParts }).Result
    this.#statements.forEach((st, i) => {
      const name = st.name ?? ''
      const known = name !== '' && (connection.parsedStatements[name] !== undefined || connection.submittedNamedStatements[name] !== undefined)
      if (!known) {
        connection.parse({ text: st.text, name, types: [] })
        if (name) connection.submittedNamedStatements[name] = st.text
        this.#parses.push({ name, text: st.text })
      }
      connection.bind({ portal: '', statement: name, values: values[i]! })
      connection.describe({ type: 'P', name: '' })
      connection.execute({ portal: '', rows: 0 })
      this.#results.push(new Result(undefined, this._result._types))
    })
    connection.sync()
    return null
  }

  /** The Parses answered are prepared (even when their statement failed later); the others are not. */
  #settleParses(): void {
    const connection = this.#connection
    if (!connection) return
    connection.removeListener('parseComplete', this.#onParse)
    this.#parses.forEach(({ name, text }, i) => {
      if (!name) return
      if (i < this.#parsed) connection.parsedStatements[name] = text
      delete connection.submittedNamedStatements[name]
    })
    this.#connection = undefined
  }

  handleRowDescription(message: { fields: unknown }): void {
    this.#results[this.#current]?.addFields(message.fields)
  }

  handleDataRow(message: { fields: unknown }): void {
    const result = this.#results[this.#current]
    result?.addRow(result.parseRow(message.fields))
  }

  handleCommandComplete(message: unknown): void {
    this.#results[this.#current++]?.addCommandComplete(message)
  }

  handleEmptyQuery(): void {
    this.#current++
  }

  handleError(error: Error): void {
    this.#settleParses()
    this.callback?.(error)
  }

  handleReadyForQuery(): void {
    this.#settleParses()
    if (this.#current < this.#results.length) this.callback?.(new Error(`the chained statements were answered ${this.#current} of ${this.#results.length} times`))
    else this.callback?.(null, this.#results)
  }

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail('COPY cannot run in a chained pipeline')
  }

  handleCopyData(): void {}

  handlePortalSuspended(): void {}
}
