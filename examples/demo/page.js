'use strict'

// The demo's only page, rendered on the server as a plain string: no template engine and no build step.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Everything that is not the page's own markup goes through this, so no value can open a tag or an attribute. */
function escapeHtml (value) {
  return String(value).replace(/[&<>"']/g, char => ESCAPES[char])
}

function layout (body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastify-auth-helpers demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main>
<h1>fastify-auth-helpers demo</h1>
${body}
</main>
</body>
</html>
`
}

function alertOf (error) {
  return error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`
}

/** A one-time message carried over a redirect (password changed, password reset). */
function noticeOf (notice) {
  return notice === undefined ? '' : `<p class="notice" role="status" id="notice">${escapeHtml(notice)}</p>\n`
}

function signInForm ({ csrfToken, error, notice, username, credentials }) {
  const alert = alertOf(error)
  return layout(`${noticeOf(notice)}${alert}<form method="post" action="/login" id="sign-in">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<label for="username">Email</label>
<input id="username" name="username" type="email" autocomplete="username" required value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p><a href="/forgot" id="forgot-link">Forgot your password?</a> · <a href="/outbox">Mail outbox</a></p>
<p class="hint">Demo account: <code>${escapeHtml(credentials.username)}</code>, password
<code>${escapeHtml(credentials.password)}</code></p>`)
}

/** A short name for a browser's user agent ("Firefox on Linux"), or the text itself when it is none of these. */
function describeDevice (userAgent) {
  if (userAgent === null) return 'Unknown device'
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null
  const system = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : null
  return browser === null || system === null ? userAgent.slice(0, 80) : `${browser} on ${system}`
}

function when (date) {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

function loginRow (login, csrfToken) {
  const action = login.current
    ? '<span class="current">This browser</span>'
    : `<form method="post" action="/logins/end" class="end-login">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="id" value="${escapeHtml(login.id)}">
<button type="submit">Sign out</button>
</form>`
  return `<li class="login" data-current="${login.current}">
<span class="device">${escapeHtml(describeDevice(login.userAgent))}</span>
<span class="address">${escapeHtml(login.ip ?? 'unknown address')}</span>
<span class="seen">Last seen ${escapeHtml(when(login.lastSeenAt))}</span>
${action}
</li>`
}

function endedNote (ended) {
  // From the query string: anything but a count shows nothing.
  if (typeof ended !== 'string' || !/^\d{1,6}$/.test(ended)) return ''
  const count = Number(ended)
  const text = count === 0 ? 'No login was signed out.' : count === 1 ? 'Signed out 1 other login.' : `Signed out ${count} other logins.`
  return `<p class="hint" id="ended" role="status">${escapeHtml(text)}</p>\n`
}

function signedIn ({ csrfToken, user, notice, logins, ended }) {
  const others = logins.some(login => !login.current)
  return layout(`${noticeOf(notice)}<p id="status">Signed in as ${escapeHtml(user.username)}</p>
<p class="hint">${escapeHtml(user.name)}, user id ${escapeHtml(user.id)}. Reload the page: the session keeps you signed in.</p>
<form method="post" action="/logout" id="sign-out">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<button type="submit">Sign out</button>
</form>
<p><a href="/password" id="change-password-link">Change password</a></p>
<h2>Where you are signed in</h2>
${endedNote(ended)}<ul id="logins">
${logins.map(login => loginRow(login, csrfToken)).join('\n')}
</ul>
${others
  ? `<form method="post" action="/logins/end-others" id="end-others">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<button type="submit">Sign out everywhere else</button>
</form>`
  : ''}`)
}

function changePasswordForm ({ csrfToken, error }) {
  return layout(`<h2>Change password</h2>
${alertOf(error)}<form method="post" action="/password" id="change-password">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<label for="current">Current password</label>
<input id="current" name="current" type="password" autocomplete="current-password" required>
<label for="next">New password</label>
<input id="next" name="next" type="password" autocomplete="new-password" minlength="10" required>
<button type="submit">Change password</button>
</form>
<p class="hint">Every other session of yours is signed out; this one stays.</p>
<p><a href="/">Cancel</a></p>`)
}

function forgotForm ({ csrfToken, error, username }) {
  return layout(`<h2>Forgot your password?</h2>
${alertOf(error)}<form method="post" action="/forgot" id="forgot">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<label for="username">Email</label>
<input id="username" name="username" type="email" autocomplete="username" required value="${escapeHtml(username ?? '')}">
<button type="submit">Send me a reset link</button>
</form>
<p><a href="/">Back to the sign-in page</a></p>`)
}

/** The same page for every address, known or not. */
function forgotSent () {
  return layout(`<p id="sent" role="status">If an account uses that address, a reset link is on its way. It works once, for an hour.</p>
<p class="hint">This demo sends no mail: its messages land in the <a href="/outbox">mail outbox</a>.</p>
<p><a href="/">Back to the sign-in page</a></p>`)
}

function outbox ({ mails, signedIn }) {
  const items = mails.map(mail => `<li class="mail">
<p>To <code>${escapeHtml(mail.to)}</code>, ${escapeHtml(mail.sentAt.toISOString())}: ${escapeHtml(mail.subject)}</p>
<p><a class="reset-link" href="${escapeHtml(mail.link)}">${escapeHtml(mail.link)}</a></p>
</li>`).join('\n')
  const whose = signedIn
    ? 'the mail to your own address'
    : 'the mail to the address you last asked a reset link for, in this browser'
  return layout(`<h2>Mail outbox</h2>
<p class="hint">What the demo would have mailed, newest first: ${whose}. A real app mails these links to the
account's own address; this page exists only because the demo has no mail server.</p>
${mails.length === 0 ? '<p id="empty">No mail yet.</p>' : `<ul id="mails">\n${items}\n</ul>`}
<p><a href="/">Back to the sign-in page</a></p>`)
}

function resetForm ({ csrfToken, token, error }) {
  return layout(`<h2>Choose a new password</h2>
${alertOf(error)}<form method="post" action="/reset" id="reset">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>
<button type="submit">Set password</button>
</form>`)
}

function errorPage ({ message }) {
  return layout(`<p class="error" role="alert">${escapeHtml(message)}</p>
<p><a href="/">Back to the sign-in page</a></p>`)
}

module.exports = { escapeHtml, describeDevice, signInForm, signedIn, errorPage, changePasswordForm, forgotForm, forgotSent, outbox, resetForm }
