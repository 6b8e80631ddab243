import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { LoginEndedEvent } from '../../types/index'
import { isThenable } from '../login-store/contract'

/**
 * Awaits the app's listener; a throw is logged and neither undoes the login nor reaches the response. The request is
 * not enumerable: an app that logs the event whole must not write the request, and the password in its body.
 */
export async function emit<E extends { request: FastifyRequest }> (hook: ((event: E) => unknown) | undefined, name: string, event: E): Promise<void> {
  if (hook === undefined) return
  Object.defineProperty(event, 'request', { enumerable: false })
  try {
    await hook(event)
  } catch (err) {
    event.request.log.error({ err }, `fastify-auth-helpers: the ${name} listener threw`)
  }
}

/** `onLoginEnded`, not awaited (ending a hundred logins waits for no listener), its failures logged. */
export function loginEndedListener (hook: ((event: LoginEndedEvent) => unknown) | undefined, log: FastifyBaseLogger): ((event: LoginEndedEvent) => void) | undefined {
  if (hook === undefined) return undefined
  return function loginEnded (event) {
    const logger = event.request?.log ?? log
    const failed = (err: unknown): void => { logger.error({ err }, 'fastify-auth-helpers: the onLoginEnded listener threw') }
    Object.defineProperty(event, 'request', { enumerable: false })
    try {
      const answer = hook(event)
      if (isThenable(answer)) Promise.resolve(answer).then(undefined, failed)
    } catch (err) {
      failed(err)
    }
  }
}
