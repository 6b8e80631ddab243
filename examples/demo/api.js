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

const refreshBody = {
  type: 'object',
  required: ['refreshToken'],
  properties: { refreshToken: { type: 'string', maxLength: 128 } }
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
    const token = await request.login({ user, backend: 'jwt' })
    // With `jwt.refresh` on, login also issued a refresh token: the client keeps it and sends it to /api/refresh.
    return { token, refreshToken: request.issuedTokens().refreshToken }
  })

  // A new access token, and a new refresh token in place of the one sent (which is spent: sending it again ends the
  // login). Every refused token is the same 401 FST_AUTH_INVALID_REFRESH_TOKEN.
  app.post('/refresh', { schema: { body: refreshBody }, bodyLimit: 1024 }, async function refreshToken (request) {
    const { accessToken, refreshToken } = await request.refresh(request.body.refreshToken)
    return { token: accessToken, refreshToken }
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
