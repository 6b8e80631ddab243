'use strict'

const { getUserFromJwt } = require('fastify-auth-helpers')

// The JSON API, on the JWT backend: the token travels in the Authorization header, which no other site can make a
// browser send, so these routes need no CSRF token.

const credentials = {
  type: 'object',
  required: ['username', 'password'],
  properties: {
    username: { type: 'string' },
    password: { type: 'string' }
  }
}

/** What the API shows of a user: chosen fields, so the password hash can never leak out with the rest. */
function publicUser (user) {
  return { id: user.id, username: user.username, name: user.name }
}

function unauthorized (reply) {
  return reply.code(401).header('www-authenticate', 'Bearer').send({
    statusCode: 401, error: 'Unauthorized', message: 'A valid bearer token is required'
  })
}

/** Registered under /api; `refuseAttempt` is the sign-in rate limit the HTML form shares. */
async function api (app, { refuseAttempt }) {
  app.post('/token', { schema: { body: credentials }, bodyLimit: 16 * 1024 }, async function issueToken (request, reply) {
    const refused = await refuseAttempt(request, reply)
    if (refused !== undefined) return { statusCode: 429, error: 'Too Many Requests', message: refused }
    // A wrong password rejects with the plugin's AuthenticationError: Fastify answers it with its 401.
    const user = await request.authenticate(request.body.username, request.body.password)
    return { token: await request.login({ user, backend: 'jwt' }) }
  })

  app.get('/me', async function me (request, reply) {
    // From the token only: the page's session cookie, which the browser adds on its own, does not count here.
    const user = await getUserFromJwt(request)
    if (user === null) return unauthorized(reply)
    return { user: publicUser(user) }
  })

  app.post('/logout', async function revokeToken (request, reply) {
    if (await getUserFromJwt(request) === null) return unauthorized(reply)
    await request.logout({ backend: 'jwt' })
    return reply.code(204).send()
  })
}

module.exports = { api, publicUser }
