'use strict'

const { randomBytes } = require('node:crypto')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const Fastify = require('fastify')
const formbody = require('@fastify/formbody')
const csrfProtection = require('@fastify/csrf-protection')
const rateLimit = require('@fastify/rate-limit')
// The package itself, through its own "exports" (npm run build makes dist/): the demo uses it as an app would.
const auth = require('fastify-auth-helpers')
const page = require('./page')
const { api } = require('./api')

const { AuthenticationError } = auth

const DEMO_CREDENTIALS = Object.freeze({ username: 'demo@example.com', password: 'correct horse battery staple' })

const STYLE = readFileSync(join(__dirname, 'style.css'), 'utf8')

// The page loads nothing but its own stylesheet and posts forms only to itself; nothing may frame it.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** Emails are compared case-insensitively, by the user store and by the rate limiter alike. */
function normalizeUsername (username) {
  return typeof username === 'string' ? username.trim().toLowerCase() : ''
}

/** The embedded user store: a Map, filled at start. Any database fits behind the same two functions. */
function memoryUsers () {
  const byId = new Map()
  return {
    add (user) {
      byId.set(user.id, user)
      return user
    },
    async findByUsername (username) {
      const wanted = normalizeUsername(username)
      for (const user of byId.values()) if (user.username === wanted) return user
      return null
    },
    async findById (id) {
      return byId.get(Number(id))
    },
    // Where changePassword, setPassword and resetPassword store the new hash (and authenticate an upgraded one).
    async updatePasswordHash (user, hash) {
      user.password = hash
    }
  }
}

/** The demo's rule for new passwords, on top of the plugin's own (a non-empty, well-formed string of sane size). */
function passwordPolicy (password, { user }) {
  if (password.length < 10) return 'Use at least 10 characters.'
  if (user !== null && password.toLowerCase().includes(user.username.split('@')[0])) return 'Do not use your email address in your password.'
  return undefined
}

/**
 * What the demo would have mailed: it has no mail server, so the messages are kept here, newest first, and /outbox
 * stands in for the inbox they were mailed to. It shows a visitor only what that inbox's owner could read: signed in,
 * the mail to their own address; signed out, the mail of the reset they asked for last in this browser session
 * (`mailbox`, a random id kept in the session), so nobody sees another visitor's links, nor which addresses have
 * accounts. The links are relative because the page that shows them is on the same site; a real mail needs the app's
 * own origin from its configuration, never from the request's Host header, which the client chooses.
 */
function memoryOutbox (limit = 20) {
  const mails = []
  return {
    send (mail) {
      mails.unshift({ ...mail, sentAt: new Date() })
      mails.length = Math.min(mails.length, limit)
    },
    mailTo (address) {
      return mails.filter(mail => mail.to === address)
    },
    mailOf (mailbox) {
      return typeof mailbox === 'string' ? mails.filter(mail => mail.mailbox === mailbox) : []
    }
  }
}

/**
 * Where API logout puts a token: its id, kept until the token would have expired anyway, so that the list only holds
 * tokens that still verify. One process, so a Map; instances that share tokens need a shared store (docs/scaling-out.md: "JWT
 * revocation across instances").
 */
function memoryRevocations (now = () => Math.floor(Date.now() / 1000)) {
  const expiries = new Map()
  return {
    revoke (claims) {
      const time = now()
      for (const [jti, exp] of expiries) if (exp < time) expiries.delete(jti)
      expiries.set(claims.jti, claims.exp)
    },
    isRevoked (claims) {
      return expiries.has(claims.jti)
    },
    get size () {
      return expiries.size
    }
  }
}

function sendPage (reply, html) {
  return reply
    .type('text/html; charset=utf-8')
    // The page holds a CSRF token and, signed in, the user's details: no cache may keep it.
    .header('cache-control', 'no-store')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(html)
}

/**
 * Builds the demo app: the plugin on the session backend for the HTML pages, on the JWT backend for the JSON API.
 *
 * options: `hashOptions` (argon2 cost, the plugin's defaults when absent), `sessionStore` (@fastify/session's
 * MemoryStore when absent), `loginStore` (createMemoryLoginStore() when absent; createRedisLoginStore beside a Redis session store), `sessionSecret`, `jwtSecret`, `loginLimit` ({ perAccount, perAddress, timeWindow }),
 * `logger`, `trustProxy` (below).
 *
 * With `trustProxy` (Fastify's: the address of a TLS-terminating proxy in front of the demo), the demo is served over
 * https and names its session cookie `__Host-sid`, which browsers accept only from an https page with `Secure`,
 * `Path=/` and no `Domain`, so that no sibling subdomain can plant one. Without it (plain http on 127.0.0.1, where a
 * `Secure` cookie never comes back and an IP address has no subdomains), the cookie keeps the plugin's default name.
 */
async function buildDemo (options = {}) {
  const {
    hashOptions,
    sessionStore,
    loginStore = auth.createMemoryLoginStore(),
    sessionSecret = randomBytes(32).toString('base64url'),
    jwtSecret = randomBytes(32).toString('base64url'),
    loginLimit = { perAccount: 5, perAddress: 20, timeWindow: '1 minute' },
    resetLimit = { perAccount: 3, perAddress: 10, timeWindow: '15 minutes' },
    logger = false,
    trustProxy
  } = options
  const https = trustProxy !== undefined

  // No type coercion: `["a@example.com"]` or `123` sent as a username is refused by the API's schemas, not turned
  // into a string first (docs/security.md).
  const app = Fastify({ logger, trustProxy, ajv: { customOptions: { coerceTypes: false } } })
  const users = memoryUsers()
  const revocations = memoryRevocations()
  const mail = memoryOutbox()

  await app.register(auth, {
    users,
    hashOptions,
    passwordPolicy,
    session: {
      secret: sessionSecret,
      store: sessionStore,
      ...(https ? { cookieName: '__Host-sid' } : {}),
      cookie: {
        // Over plain http on localhost a Secure cookie is never sent back and nobody could stay signed in: 'auto'
        // marks it Secure only when the request came over https. Behind the TLS proxy, always Secure.
        secure: https ? true : 'auto',
        maxAge: 8 * 60 * 60 * 1000
      }
    },
    // Where logins are kept (sessions' and tokens'): in memory by default, in Redis with REDIS_URL (server.js). JWT
    // logins kept here can be listed and ended, and refresh tokens need it: each is spent once, atomically.
    loginStore,
    // The session stays the default backend: the API names `backend: 'jwt'` where it logs in and out. Access tokens
    // last 15 minutes; POST /api/refresh renews them with the refresh token, for as long as the login lives.
    jwt: {
      secret: jwtSecret,
      expiresIn: '15m',
      revoke: revocations.revoke,
      isRevoked: revocations.isRevoked,
      refresh: {
        expiresIn: '14d',
        onReuse ({ userId, loginId }) {
          // A spent refresh token came back: two parties held it, the login is over. An app would alert here.
          app.log.warn({ userId, loginId }, 'refresh token reuse: the login has been ended')
        }
      }
    }
  })
  // Hashed at start with the plugin's own parameters, as a sign-up form would.
  users.add({
    id: 1,
    username: DEMO_CREDENTIALS.username,
    name: 'Demo User',
    password: await app.hashPassword(DEMO_CREDENTIALS.password)
  })

  await app.register(formbody)
  // The CSRF secret lives in the session, server-side: a new one after sign-in, none after sign-out.
  await app.register(csrfProtection, { sessionPlugin: '@fastify/session' })
  await app.register(rateLimit, { global: false })

  /**
   * Two budgets for signing in, shared by every way of doing it. Per account: guesses at one password from many
   * addresses. Per address: one client spraying many accounts (or flooding the limiter's memory to make it forget
   * an account's count). Each attempt is counted before its password is checked, so that guesses sent all at once
   * cannot slip under the limit while the first ones are being verified.
   */
  const limitAddress = app.createRateLimit({ max: loginLimit.perAddress, timeWindow: loginLimit.timeWindow })
  const limitAccount = app.createRateLimit({
    max: loginLimit.perAccount,
    timeWindow: loginLimit.timeWindow,
    // Past the plugin's username limit (512 bytes) every name fails anyway: the key need not be longer.
    keyGenerator: request => `login:${normalizeUsername(request.body?.username).slice(0, 512)}`
  })
  /** The message for a refused attempt, after setting its 429 and Retry-After; undefined when the attempt may go on. */
  async function refuseAttempt (request, reply) {
    for (const [limiter, message] of [
      [limitAddress, 'Too many sign-in attempts from this address.'],
      [limitAccount, 'Too many sign-in attempts for this account.']
    ]) {
      const limit = await limiter(request)
      if (limit.isExceeded) {
        reply.code(429).header('retry-after', limit.ttlInSeconds)
        return `${message} Wait a minute and try again.`
      }
    }
    return undefined
  }

  /**
   * The same two budgets for reset links, counted before the lookup for every address alike, so a 429 says no more
   * about who has an account than the 202 does. Per account: nobody's inbox can be flooded. Per address: one client
   * cannot mail every account.
   */
  const limitResetAddress = app.createRateLimit({ max: resetLimit.perAddress, timeWindow: resetLimit.timeWindow })
  const limitResetAccount = app.createRateLimit({
    max: resetLimit.perAccount,
    timeWindow: resetLimit.timeWindow,
    keyGenerator: request => `reset:${normalizeUsername(request.body?.username).slice(0, 512)}`
  })
  // Guesses at the current password from a stolen session count against the account's sign-in budget.
  const limitPasswordChange = app.createRateLimit({
    max: loginLimit.perAccount,
    timeWindow: loginLimit.timeWindow,
    keyGenerator: request => `login:${normalizeUsername(request.user?.username)}`
  })

  await app.register(api, { prefix: '/api', refuseAttempt })

  await app.register(async function pages (app) {
    app.setErrorHandler(function renderError (error, request, reply) {
      // Fastify, its plugins and fastify-auth-helpers give every error they raise a status; only a bug in the demo
      // itself could arrive without one, and no test can make the demo have a bug.
      /* c8 ignore next */
      const status = error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
      if (status >= 500) request.log.error({ err: error }, 'demo page failed')
      const message = error.code?.startsWith('FST_CSRF_')
        ? 'This form has expired or did not come from this page. Go back, reload and try again.'
        : status >= 500 ? 'Something went wrong.' : error.message
      return sendPage(reply.code(status), page.errorPage({ message }))
    })

    app.get('/style.css', function style (_request, reply) {
      return reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE)
    })

    app.get('/', async function home (request, reply) {
      const csrfToken = reply.generateCsrf()
      const notice = takeNotice(request)
      if (request.user === null) return sendPage(reply, page.signInForm({ csrfToken, notice, credentials: DEMO_CREDENTIALS }))
      // Where the user is signed in: each login's device, address and last use, none of it a credential.
      const logins = await request.listLogins()
      return sendPage(reply, page.signedIn({ csrfToken, notice, user: request.user, logins, ended: request.query.ended }))
    })

    // A sign-in form is a few hundred bytes: no reason to parse a megabyte.
    const formRoute = { preHandler: app.csrfProtection, bodyLimit: 16 * 1024 }

    app.post('/login', formRoute, async function signIn (request, reply) {
      const { username, password } = request.body ?? {}
      const form = error => page.signInForm({
        csrfToken: reply.generateCsrf(),
        error,
        username: typeof username === 'string' ? username : '',
        credentials: DEMO_CREDENTIALS
      })
      const refused = await refuseAttempt(request, reply)
      if (refused !== undefined) return sendPage(reply, form(refused))
      let user
      try {
        user = await request.authenticate(username, password)
      } catch (err) {
        // Only a failed check is a wrong password: a user store that is down is a 500. The in-memory store never
        // fails, so the demo cannot take this branch; a database-backed app can.
        /* c8 ignore next */
        if (!(err instanceof AuthenticationError)) throw err
        return sendPage(reply.code(401), form(err.message))
      }
      // login keeps the visitor's session data but drops the CSRF secret (rotateOnLogin): whoever planted or saw
      // the signed-out session, and so holds its tokens, holds none of the signed-in one.
      await request.login({ user })
      // Post/Redirect/Get: reloading the signed-in page does not resubmit the password.
      return reply.redirect('/', 303)
    })

    app.post('/logout', formRoute, async function signOut (request, reply) {
      await request.logout()
      return reply.redirect('/', 303)
    })

    app.get('/password', function changePasswordPage (request, reply) {
      if (request.user === null) return reply.redirect('/', 303)
      return sendPage(reply, page.changePasswordForm({ csrfToken: reply.generateCsrf() }))
    })

    app.post('/password', formRoute, async function changePassword (request, reply) {
      if (request.user === null) return reply.redirect('/', 303)
      const form = (status, error) => sendPage(reply.code(status), page.changePasswordForm({ csrfToken: reply.generateCsrf(), error }))
      const limit = await limitPasswordChange(request)
      if (limit.isExceeded) {
        reply.header('retry-after', limit.ttlInSeconds)
        return form(429, 'Too many attempts for this account. Wait a minute and try again.')
      }
      const { current, next } = request.body ?? {}
      try {
        // Checks the current password, stores the new one, signs out every other session, renews this one.
        await request.changePassword(current, next)
      } catch (err) {
        if (err.code === 'FST_AUTH_INVALID_PASSWORD') return form(400, err.message)
        // Anything but a wrong current password (a user store that is down, a full argon2 queue) is the error page's;
        // the in-memory store never fails, so the demo cannot take this branch.
        /* c8 ignore next */
        if (err.code !== 'FST_AUTH_AUTHENTICATION_FAILED') throw err
        return form(401, 'Your current password is not that.')
      }
      request.session.set('notice', 'Your password was changed. Every other session was signed out.')
      return reply.redirect('/', 303)
    })

    app.get('/forgot', function forgotPage (request, reply) {
      return sendPage(reply, page.forgotForm({ csrfToken: reply.generateCsrf() }))
    })

    app.post('/forgot', formRoute, async function forgot (request, reply) {
      const { username } = request.body ?? {}
      for (const [limiter, message] of [
        [limitResetAddress, 'Too many reset requests from this address.'],
        [limitResetAccount, 'Too many reset requests for this address.']
      ]) {
        const limit = await limiter(request)
        if (limit.isExceeded) {
          reply.code(429).header('retry-after', limit.ttlInSeconds)
          return sendPage(reply, page.forgotForm({ csrfToken: reply.generateCsrf(), error: `${message} Try again later.`, username }))
        }
      }
      // Returns at once: the lookup and the mail happen after this answer, which is the same for every address.
      // This browser's stand-in inbox: a new one for every request, so the outbox shows the last address asked for.
      const mailbox = randomBytes(16).toString('base64url')
      request.session.set('mailbox', mailbox)
      app.requestPasswordReset(username, {
        maxAge: 60 * 60 * 1000,
        // `username` is the address as typed; the mail goes to the one the account holds.
        send ({ user, token }) {
          mail.send({ to: user.username, mailbox, subject: 'Reset your password', link: `/reset?token=${encodeURIComponent(token)}` })
        }
      })
      return sendPage(reply, page.forgotSent())
    })

    app.get('/outbox', function outboxPage (request, reply) {
      const user = request.user
      const mails = user === null ? mail.mailOf(request.session.get('mailbox')) : mail.mailTo(user.username)
      return sendPage(reply, page.outbox({ mails, signedIn: user !== null }))
    })

    app.get('/reset', async function resetPage (request, reply) {
      const token = request.query.token
      // A dead link says so at once rather than after the visitor has typed a new password; 400, the same for all.
      await app.verifyUserToken(token, { purpose: 'password-reset' })
      return sendPage(reply, page.resetForm({ csrfToken: reply.generateCsrf(), token }))
    })

    app.post('/reset', formRoute, async function reset (request, reply) {
      const { token, password } = request.body ?? {}
      try {
        await app.resetPassword(token, password)
      } catch (err) {
        if (err.code !== 'FST_AUTH_INVALID_PASSWORD') throw err
        return sendPage(reply.code(400), page.resetForm({ csrfToken: reply.generateCsrf(), token, error: err.message }))
      }
      // Not signed in: whoever holds the link proves they read the mail, and signing in proves the new password.
      request.session.set('notice', 'Your password was reset. Sign in with it.')
      return reply.redirect('/', 303)
    })

    // "Sign out" on one row of the list: the id is the login's opaque id from listLogins(). An id that names none
    // of this user's logins (another user's, a forged one) ends nothing; the page says so.
    const signedInForm = { preHandler: [app.csrfProtection, app.requireUser], bodyLimit: 16 * 1024 }
    app.post('/logins/end', signedInForm, async function endLogin (request, reply) {
      const ended = await request.endLogin(request.body?.id)
      return reply.redirect(`/?ended=${ended ? 1 : 0}`, 303)
    })

    // "Sign out everywhere else": every login of the user but this browser's.
    app.post('/logins/end-others', signedInForm, async function endOtherLogins (request, reply) {
      const ended = await request.endOtherLogins()
      return reply.redirect(`/?ended=${ended}`, 303)
    })
  })

  return app
}

/** The notice a redirect left in the session, shown once. */
function takeNotice (request) {
  const notice = request.session.get('notice')
  if (notice !== undefined) request.session.set('notice', undefined)
  return notice
}

module.exports = { buildDemo, memoryRevocations, DEMO_CREDENTIALS }
