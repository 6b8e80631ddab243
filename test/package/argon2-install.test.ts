import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

// argon2 is the package's one native dependency. Installed with `npm ci --ignore-scripts` (what .ci/run does, and what
// a machine without python, make and g++ amounts to), its only binaries are the prebuilt ones it ships in prebuilds/.
// argon2 0.45 builds them for Node-API 10, which Node 20 lacks (it has 9): loading one there kills the process with
// a segfault, and npm then falls back to compiling. These tests hold the pin to a release whose binaries load on
// every Node the package supports (20.19+, 22, 24: Node-API is forward compatible, so 9 is the bound).
const root = join(__dirname, '..', '..')
const argon2Dir = dirname(require.resolve('argon2/package.json'))
const NODE_20_NAPI = 9

t.test('argon2 is pinned to one version, so no install picks a release built for a newer Node-API', async t => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.match(pkg.dependencies.argon2, /^\d+\.\d+\.\d+$/, 'an exact version, not a range')
  t.equal(JSON.parse(readFileSync(join(argon2Dir, 'package.json'), 'utf8')).version, pkg.dependencies.argon2, 'installed as pinned')
})

t.test('every prebuilt argon2 binary that can be read asks for no newer Node-API than Node 20 has', async t => {
  const binaries = readdirSync(join(argon2Dir, 'prebuilds'), { recursive: true, encoding: 'utf8' })
    .filter(name => name.endsWith('.node'))
  t.ok(binaries.some(name => name.startsWith(`${process.platform}-${process.arch}`)), 'one for this platform')
  let read = 0
  for (const name of binaries) {
    const version = elfNodeApiVersion(readFileSync(join(argon2Dir, 'prebuilds', name)))
    if (version === undefined) continue // Mach-O and PE: checked by hand when the pin changes
    read++
    t.ok(version <= NODE_20_NAPI, `${name}: Node-API ${version}`)
  }
  t.ok(read >= 6, 'the Linux and FreeBSD binaries were all read')
})

t.test('argon2 loads its prebuilt binary, with no compiled build beside it', async t => {
  const { path } = require('node-gyp-build') as { path: (dir: string) => string }
  t.match(relative(argon2Dir, path(argon2Dir)), /^prebuilds\//, 'node-gyp-build picks the prebuilt binary')
  t.notOk(existsSync(join(argon2Dir, 'build')), 'nothing was compiled at install')
})

t.test('argon2 hashes and verifies in a fresh process (a binary for the wrong Node-API segfaults here)', async t => {
  const script = `
    const argon2 = require('argon2')
    argon2.hash('correct horse', { memoryCost: 1024, timeCost: 1, parallelism: 1 })
      .then(hash => Promise.all([hash, argon2.verify(hash, 'correct horse'), argon2.verify(hash, 'wrong')]))
      .then(([hash, right, wrong]) => console.log(JSON.stringify({ id: hash.split('$')[1], right, wrong })))`
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })
  t.equal(child.signal, null, 'not killed by a signal')
  t.equal(child.status, 0, child.stderr)
  t.same(JSON.parse(child.stdout), { id: 'argon2id', right: true, wrong: false })
})

/**
 * The Node-API version an ELF addon was built for: what its `node_api_module_get_api_version_v1` returns, read from
 * the function's first instruction (x86-64 `mov eax, imm32`, AArch64 `movz w0, #imm`, Thumb `movs r0, #imm`).
 * Undefined for other formats.
 */
function elfNodeApiVersion (file: Buffer): number | undefined {
  if (file.readUInt32BE(0) !== 0x7f454c46) return undefined
  const is64 = file[4] === 2
  const machine = file.readUInt16LE(18)
  const word = (at: number): number => is64 ? Number(file.readBigUInt64LE(at)) : file.readUInt32LE(at)
  const sectionsAt = word(is64 ? 0x28 : 0x20)
  const sectionSize = file.readUInt16LE(is64 ? 0x3a : 0x2e)
  const sectionCount = file.readUInt16LE(is64 ? 0x3c : 0x30)
  const sections = Array.from({ length: sectionCount }, (_, i) => {
    const at = sectionsAt + i * sectionSize
    return {
      type: file.readUInt32LE(at + 4),
      addr: word(at + (is64 ? 0x10 : 0x0c)),
      offset: word(at + (is64 ? 0x18 : 0x10)),
      size: word(at + (is64 ? 0x20 : 0x14)),
      link: file.readUInt32LE(at + (is64 ? 0x28 : 0x18))
    }
  })
  const dynsym = sections.find(section => section.type === 11) // SHT_DYNSYM
  if (dynsym === undefined) return undefined
  const names = sections[dynsym.link]!
  const entry = is64 ? 24 : 16
  for (let at = dynsym.offset; at < dynsym.offset + dynsym.size; at += entry) {
    const nameAt = names.offset + file.readUInt32LE(at)
    const name = file.toString('latin1', nameAt, file.indexOf(0, nameAt))
    if (name !== 'node_api_module_get_api_version_v1') continue
    const value = word(at + (is64 ? 8 : 4)) & ~1 // the Thumb bit
    const section = sections.find(s => s.type === 1 && value >= s.addr && value < s.addr + s.size)! // SHT_PROGBITS
    const code = file.subarray(value - section.addr + section.offset, value - section.addr + section.offset + 16)
    if (machine === 62) return code.readUInt32LE(code.indexOf(0xb8) + 1) // x86-64
    for (let i = 0; i + 4 <= code.length; i += 4) { // AArch64
      const instruction = code.readUInt32LE(i)
      if (machine === 183 && (instruction & 0xffe0001f) >>> 0 === 0x52800000) return (instruction >>> 5) & 0xffff
    }
    for (let i = 0; i + 2 <= code.length; i += 2) { // 32-bit Arm, Thumb
      const instruction = code.readUInt16LE(i)
      if (machine === 40 && (instruction & 0xff00) === 0x2000) return instruction & 0xff
    }
  }
  return undefined
}
