// The demo through app.inject and as a process. One process; the Chromium tests are browser.suite.ts.
import './pages.test'
import './api.test'
import './passwords.test'
import './logins.test'
import './server.test'
import './outbox.test'
