import type { LoginIndexEntry as IndexEntry, LoginRecord, LoginStore } from './contract'

/** node-redis's `createClient()` and `createCluster()`: on a cluster `eval` goes to its key's node, one key a script. */
export interface RedisLoginClient {
  hGetAll (key: string): Promise<Record<string, string>> | PromiseLike<unknown>
  eval (script: string, options: { keys: string[], arguments: string[] }): Promise<unknown> | PromiseLike<unknown>
}

export interface RedisLoginStoreOptions {
  /** Put before every key. Default `'auth:'`. */
  prefix?: string
}

// A record is a hash of JSON fields: changed one by one (no read-modify-write), and numbers keep their precision
// (Lua's cjson would round ids above 10**14).
const CREATE = `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`
const UPDATE = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`
const TAKE = `local record = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return record`
const DELETE = 'return redis.call(\'DEL\', KEYS[1])'
// An index is a hash from login id to "expiresAt:handle". After a change, entries whose login has expired (before
// ARGV[3]) are dropped and the key lives as long as its longest login.
const PRUNE = `local longest = 0
local pruned = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local expires = tonumber(string.match(entries[i + 1], '^(%d+):'))
  if expires == nil or expires <= tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[1], entries[i])
    pruned[#pruned + 1] = entries[i]
    pruned[#pruned + 1] = entries[i + 1]
  elseif expires > longest then
    longest = expires
  end
end
if longest > 0 then redis.call('PEXPIREAT', KEYS[1], longest) end`
const ADD_ENTRY = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${PRUNE}
return pruned`
/** Lua: answers `refusal` unless the hash field ARGV[1] exists and, when `handle` is given, names it (after the colon). */
function unlessEntryNames (handle: string, refusal: string): string {
  return `local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return ${refusal} end
if ${handle} then
  local colon = string.find(entry, ':', 1, true)
  if colon == nil or string.sub(entry, colon + 1) ~= ${handle} then return ${refusal} end
end`
}
// With ARGV[4], only while the entry names that handle.
const REPLACE_ENTRY = `${unlessEntryNames('ARGV[4]', '0')}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${PRUNE}
return 1`
// With ARGV[2], only while the entry names that handle.
const REMOVE_ENTRY = `${unlessEntryNames('ARGV[2]', 'false')}
redis.call('HDEL', KEYS[1], ARGV[1])
return entry`
// Fields are stored as JSON, so the expected value (ARGV[3]) is compared in its JSON form.
const SWAP = `if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`
const REMOVE_ALL = `local entries = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return entries`

function encodeRecord (record: Partial<LoginRecord>): string[] {
  const fields: string[] = []
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) fields.push(name, JSON.stringify(value))
  }
  return fields
}

function decodeRecord (hash: Record<string, string> | null | undefined): LoginRecord | null {
  if (hash == null || Object.keys(hash).length === 0) return null
  const record: Record<string, unknown> = {}
  try {
    for (const [name, value] of Object.entries(hash)) record[name] = JSON.parse(value)
  } catch {
    // Not written by this store: no login.
    return null
  }
  return record as unknown as LoginRecord
}

/** node-redis answers HGETALL with an object; a script's array reply is name, value, name, value. */
function pairs (reply: unknown): Array<[string, string]> {
  const list = Array.isArray(reply) ? reply.map(String) : []
  const result: Array<[string, string]> = []
  for (let i = 0; i + 1 < list.length; i += 2) result.push([list[i] as string, list[i + 1] as string])
  return result
}

function encodeEntry (entry: IndexEntry): string {
  return `${Math.floor(entry.expiresAt)}:${entry.handle}`
}

function decodeEntry (value: string): IndexEntry | null {
  const colon = value.indexOf(':')
  const expiresAt = Number(value.slice(0, colon))
  return colon > 0 && Number.isFinite(expiresAt) ? { expiresAt, handle: value.slice(colon + 1) } : null
}

function entriesOf (list: Array<[string, string]>): Array<[string, IndexEntry]> {
  const result: Array<[string, IndexEntry]> = []
  for (const [id, value] of list) {
    const entry = decodeEntry(value)
    if (entry !== null) result.push([id, entry])
  }
  return result
}

/** A login store on Redis (node-redis 4+, a server or a Cluster): each operation one command or script on one key. */
export function createRedisLoginStore (client: RedisLoginClient, options: RedisLoginStoreOptions = {}): LoginStore & Required<Pick<LoginStore, 'swap'>> {
  const prefix = options.prefix ?? 'auth:'
  const run = async (script: string, key: string, args: string[]): Promise<unknown> =>
    await client.eval(script, { keys: [prefix + key], arguments: args })
  return {
    async get (key) {
      return decodeRecord(await client.hGetAll(prefix + key) as Record<string, string>)
    },
    async create (key, record, expiresAt) {
      await run(CREATE, key, [String(Math.floor(expiresAt)), ...encodeRecord(record)])
    },
    async delete (key) {
      await run(DELETE, key, [])
    },
    async take (key) {
      return decodeRecord(Object.fromEntries(pairs(await run(TAKE, key, []))))
    },
    async update (key, fields, expiresAt) {
      return Number(await run(UPDATE, key, [String(Math.floor(expiresAt)), ...encodeRecord(fields)])) === 1
    },
    async addEntry (indexKey, loginId, entry, now) {
      return entriesOf(pairs(await run(ADD_ENTRY, indexKey, [loginId, encodeEntry(entry), String(Math.floor(now))])))
    },
    async replaceEntry (indexKey, loginId, entry, expectedHandle) {
      const args = [loginId, encodeEntry(entry), '0']
      return Number(await run(REPLACE_ENTRY, indexKey, expectedHandle === undefined ? args : [...args, expectedHandle])) === 1
    },
    async removeEntry (indexKey, loginId, expectedHandle) {
      const value = await run(REMOVE_ENTRY, indexKey, expectedHandle === undefined ? [loginId] : [loginId, expectedHandle])
      return typeof value === 'string' ? decodeEntry(value) : null
    },
    async removeAllEntries (indexKey) {
      return entriesOf(pairs(await run(REMOVE_ALL, indexKey, [])))
    },
    async entries (indexKey) {
      return entriesOf(Object.entries(await client.hGetAll(prefix + indexKey) as Record<string, string>))
    },
    async swap (key, field, expected, fields, expiresAt) {
      const args = [String(Math.floor(expiresAt)), field, JSON.stringify(expected), ...encodeRecord(fields)]
      return Number(await run(SWAP, key, args)) === 1
    }
  }
}
