// The session backend: its store calls, cookie signer, regenerate writes and cookie warnings. One process for test/session/.
import './signer.test'
import './store.test'
import './regenerate-writes.test'
import './insecure-cookie.test'
