/**
 * Presence, as Phoenix Presence keeps it: per topic, each joined channel (an "owner") holds at
 * most one meta under its presence key; a meta carries a `phx_ref`, and an update a
 * `phx_ref_prev`. Changes come out as `presence_diff` payloads (`{joins, leaves}`), the whole as
 * `presence_state` (`{key: {metas}}`), the shapes realtime-js's Presence syncs from.
 * @module
 */
import { randomBytes } from 'node:crypto'

export type Meta = Record<string, unknown> & { phx_ref: string; phx_ref_prev?: string }

export interface PresenceEntry {
  /** `node/channel`: which process and which joined channel holds it. */
  owner: string
  key: string
  meta: Meta
}

export type PresenceState = Record<string, { metas: Meta[] }>
export interface PresenceDiff {
  joins: PresenceState
  leaves: PresenceState
}

export function presenceRef(): string {
  return randomBytes(9).toString('base64url')
}

function grouped(entries: Iterable<PresenceEntry>): PresenceState {
  const state: PresenceState = {}
  for (const entry of entries) (state[entry.key] ??= { metas: [] }).metas.push(entry.meta)
  return state
}

export function diffOf(joins: PresenceEntry[], leaves: PresenceEntry[]): PresenceDiff {
  return { joins: grouped(joins), leaves: grouped(leaves) }
}

export class PresenceTable {
  readonly #topics = new Map<string, Map<string, PresenceEntry>>()

  /** Stores `entry` (replacing the owner's previous one, returned). */
  set(topicKey: string, entry: PresenceEntry): PresenceEntry | undefined {
    let owners = this.#topics.get(topicKey)
    if (!owners) this.#topics.set(topicKey, (owners = new Map()))
    const previous = owners.get(entry.owner)
    owners.set(entry.owner, entry)
    return previous
  }

  remove(topicKey: string, owner: string): PresenceEntry | undefined {
    const owners = this.#topics.get(topicKey)
    const previous = owners?.get(owner)
    if (!owners || !previous) return undefined
    owners.delete(owner)
    if (owners.size === 0) this.#topics.delete(topicKey)
    return previous
  }

  /** Removes every entry whose owner matches, grouped by topic (a node gone, a resync). */
  removeWhere(match: (owner: string) => boolean): Map<string, PresenceEntry[]> {
    const removed = new Map<string, PresenceEntry[]>()
    for (const [topicKey, owners] of this.#topics) {
      for (const [owner, entry] of owners) {
        if (!match(owner)) continue
        owners.delete(owner)
        ;(removed.get(topicKey) ?? removed.set(topicKey, []).get(topicKey)!).push(entry)
      }
      if (owners.size === 0) this.#topics.delete(topicKey)
    }
    return removed
  }

  /** Every entry whose owner matches, by topic (a snapshot for another node). */
  entriesWhere(match: (owner: string) => boolean): Array<{ topicKey: string; entries: PresenceEntry[] }> {
    const out: Array<{ topicKey: string; entries: PresenceEntry[] }> = []
    for (const [topicKey, owners] of this.#topics) {
      const entries = [...owners.values()].filter((entry) => match(entry.owner))
      if (entries.length > 0) out.push({ topicKey, entries })
    }
    return out
  }

  state(topicKey: string): PresenceState {
    return grouped(this.#topics.get(topicKey)?.values() ?? [])
  }

  count(topicKey: string): number {
    return this.#topics.get(topicKey)?.size ?? 0
  }
}
