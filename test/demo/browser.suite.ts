// The demo driven by Debian's Chromium (npm run test:e2e runs these alone).
import './browser-sign-in.test'
import './browser-logins.test'
import './browser-passwords.test'
