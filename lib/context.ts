import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { BackendName } from './constants'
import type { JwtClaims, LoginRecord, RefreshedTokens } from '../types/index'

/** The login a request carries (read in onRequest) or made, until the request ends. */
export interface CurrentLogin {
  backend: BackendName
  /** Where the record is kept: the session id, or the token's `sid`; '' when no store keeps it. Never shown. */
  handle: string
  record: LoginRecord
}

/** What the JWT backend knows of one request's token, and what its response must do with the cookies. */
export interface TokenState {
  /** The verified claims of the request's token, or of the token issued on it; null when there is no login. */
  claims: JwtClaims | null
  /** The token cookie to send: a token to set, null to clear it, undefined to leave it alone. */
  cookie: string | null | undefined
  refreshCookie: string | null | undefined
  /** The `remember` of the login made on this request: false sends cookies without Max-Age. */
  remember: boolean | null | undefined
  /** The kept login made on this request, to end if the response is a 5xx. */
  made: CurrentLogin | undefined
  issued: RefreshedTokens | undefined
}

/** Everything the plugin keeps about one request, made the first time something needs it. */
export class AuthContext {
  login: CurrentLogin | undefined = undefined
  /** The backend whose login resolved the request's user, or that login() used, until logout. */
  resolvedBy: BackendName | undefined = undefined
  /** The user whose password this request checked, and the hash it matched (or was upgraded to). */
  proof: { user: object, hash: string } | undefined = undefined
  /** The session id of the login this request made, to undo on a 5xx. */
  sessionMade: string | undefined = undefined
  /** Set while the session backend calls `session.regenerate()`, for the id generator. */
  regenerating: 'login' | 'empty' | undefined = undefined
  regeneratedId: string | undefined = undefined
  /** The record read for the session cookie's id before @fastify/session loaded the session. */
  prefetched: { handle: string, answer: LoginRecord | null | Promise<LoginRecord | null> } | undefined = undefined
  token: TokenState | undefined = undefined
}

const kContext = Symbol('fastify-auth-helpers.context')

type ContextRequest = FastifyRequest & { [kContext]: AuthContext | null }

export function decorateContext (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator(kContext)) fastify.decorateRequest(kContext, null)
}

export function contextOf (request: FastifyRequest): AuthContext {
  return ((request as ContextRequest)[kContext] ??= new AuthContext())
}

/** The context when something made one: hot paths read through this so that anonymous requests allocate nothing. */
export function peekContext (request: FastifyRequest): AuthContext | null | undefined {
  return (request as ContextRequest)[kContext]
}
