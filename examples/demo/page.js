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

function signInForm ({ csrfToken, error, username, credentials }) {
  const alert = error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`
  return layout(`${alert}<form method="post" action="/login" id="sign-in">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<label for="username">Email</label>
<input id="username" name="username" type="email" autocomplete="username" required value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">Demo account: <code>${escapeHtml(credentials.username)}</code>, password
<code>${escapeHtml(credentials.password)}</code></p>`)
}

function signedIn ({ csrfToken, user }) {
  return layout(`<p id="status">Signed in as ${escapeHtml(user.username)}</p>
<p class="hint">${escapeHtml(user.name)}, user id ${escapeHtml(user.id)}. Reload the page: the session keeps you signed in.</p>
<form method="post" action="/logout" id="sign-out">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<button type="submit">Sign out</button>
</form>`)
}

function errorPage ({ message }) {
  return layout(`<p class="error" role="alert">${escapeHtml(message)}</p>
<p><a href="/">Back to the sign-in page</a></p>`)
}

module.exports = { escapeHtml, signInForm, signedIn, errorPage }
