// Issue 11, item 2: the README's JWT example was `app.get('/me', ..., async (request) => request.user)`, which sends the
// user object whole, argon2 hash included. No documented example may return the user whole: each picks fields or has
// a response schema. This file runs the README's JWT example as written and scans every documented example.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { JWT_SECRET, bearer, tokenFor } from '../jwt/helper'
import { hashOf } from '../helper'
import { buildApp } from './kit'

const ROOT = join(__dirname, '..', '..')

function lines (text: string): string[] {
  return text.split('\n').map(line => line.trim()).filter(line => line !== '')
}

function jwtMeRoute (app: FastifyInstance): void {
  // recipe:jwt-me:start
  app.get('/me', {
    preHandler: app.requireUser,
    // Only these fields are sent: request.user also holds the password hash.
    schema: {
      response: {
        200: { type: 'object', properties: { id: { type: 'integer' }, email: { type: 'string' } } }
      }
    }
  }, async (request) => request.user)
  // recipe:jwt-me:end
}

t.test('the documented JWT /me example (docs/reference.md, moved from the README), run as written, sends the chosen fields and not the hash', async t => {
  const source = readFileSync(__filename, 'utf8')
  const recipe = source.slice(source.indexOf('// recipe:jwt-me:start'), source.indexOf('// recipe:jwt-me:end'))
  const shown = ['README.md', 'docs/reference.md'].filter(file => lines(readFileSync(join(ROOT, file), 'utf8')).join('\n').includes(lines(recipe).join('\n')))
  t.ok(shown.length > 0, 'the README or the reference it links to shows this route line for line')

  const { app, users } = await buildApp(t, {
    plugin: { jwt: { secret: JWT_SECRET }, defaultBackend: 'jwt' },
    routes: (app) => app.register(async (scope) => jwtMeRoute(scope), { prefix: '/readme' })
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw'), email: 'bob@example.com' } as never)
  const token = await tokenFor(app)
  const response = await app.inject({ url: '/readme/me', headers: bearer(token) })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { id: 1, email: 'bob@example.com' })
  t.notMatch(response.body, /argon2/, 'no password hash in the body')
})

/** Every fenced code block of the README and docs/, and every example app's source, with where it came from. */
function documentedExamples (): Array<[string, string]> {
  const found: Array<[string, string]> = []
  const markdown = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter(name => name.endsWith('.md')).map(name => `docs/${name}`)]
  for (const file of markdown) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    for (const [index, block] of [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].entries()) found.push([`${file}, block ${index + 1}`, block[1] as string])
  }
  const demo = join(ROOT, 'examples', 'demo')
  for (const name of readdirSync(demo).filter(name => name.endsWith('.js'))) found.push([`examples/demo/${name}`, readFileSync(join(demo, name), 'utf8')])
  return found
}

// A handler's answer that is the user itself: `=> request.user)`, `return request.user` and `{ user: request.user }`,
// as JSON; a template given the user renders the fields it names, and is not matched.
const WHOLE_USER = /=>\s*request\.user\s*\)|return\s+request\.user\s*(?:$|[;}\n])|\(\{\s*user:\s*request\.user\s*\}\)|return\s+\{\s*user:\s*request\.user\s*\}/m

t.test('no documented example returns the user whole without a response schema', async t => {
  const examples = documentedExamples()
  t.ok(examples.length > 10, 'the README, docs/ and the demo have examples')
  for (const [where, code] of examples) {
    if (WHOLE_USER.test(code)) t.match(code, /response:\s*\{/, `${where} returns request.user: it has a response schema`)
    else t.pass(`${where} does not return the user whole`)
  }
  t.ok(WHOLE_USER.test("app.get('/me', { preHandler: app.requireUser }, async (request) => request.user)"),
    'the pattern catches the example issue 11 found')
})
