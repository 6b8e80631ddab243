'use strict'

// One variant of bench/apps.js listening on loopback, in its own process so the load generator (bench/http.js)
// does not share its event loop. Tells the parent its port and the request to repeat, then serves until killed.

const { build } = require('./apps')

async function main () {
  const name = process.argv[2]
  const variant = await build(name)
  await variant.app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ name, port: variant.app.server.address().port, request: variant.request, expect: variant.expect })
  // The parent going away (crash, Ctrl-C) takes the server with it: no server outlives the bench.
  process.on('disconnect', () => variant.app.close().then(() => process.exit(0)))
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
