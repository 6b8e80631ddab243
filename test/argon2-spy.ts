import argon2 = require('argon2')

/** Records every argon2.verify the plugin makes, by wrapping the module's export for the test's duration. */
export function spyOnVerify (t: { teardown: (fn: () => void) => void }): Array<{ digest: string }> {
  const calls: Array<{ digest: string }> = []
  const original = argon2.verify
  argon2.verify = async (digest, password, options) => {
    calls.push({ digest })
    return original(digest, password, options)
  }
  t.teardown(() => { argon2.verify = original })
  return calls
}
