/**
 * The package's version for `resolution --version`, read from the package.json above this
 * module: the sources (src/cli) and the build (dist/node/cli) sit at different depths.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

export function packageVersion(from = import.meta.dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'resolution' && pkg.version) return pkg.version
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}
