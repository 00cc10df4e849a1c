/**
 * `npm run roles`: writes docs/roles/*.json from src/azure/roles.ts (the permissions table the
 * preflight checks), then formats them. The unit test __tests__/unit/repository.test.ts fails when
 * the files and the table disagree.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { roleFiles } from '../src/azure/role-files.js'

// The folder comes from the command line: ncc would otherwise bundle a literal path as an asset.
const dir = process.argv[2]
if (!dir) throw new Error('usage: roles <folder>')
const files = roleFiles()
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !(name in files)) rmSync(join(dir, name))
}
for (const [name, role] of Object.entries(files)) {
  writeFileSync(join(dir, name), `${JSON.stringify(role, null, 2)}\n`)
}
console.log(`Wrote ${Object.keys(files).length} role files to docs/roles/.`)
