import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import auth from 'fastify-auth-helpers'

interface AppUser { id: number, email: string, passwordHash: string }

declare module 'fastify-auth-helpers' {
  interface FastifyAuthHelpers { user: AppUser }
}

const app = Fastify()
declare const request: FastifyRequest
declare const appUser: AppUser
const users = { findByUsername: async () => appUser, findById: async () => null, updatePasswordHash: async () => {} }

test('passwordPolicy and userTokens are options', () => {
  expect(app.register(auth, {
    users,
    session: { secret: 'x'.repeat(32) },
    passwordPolicy: (password, { user }) => password.length < 12 || password === user?.email ? 'Too weak' : undefined,
    userTokens: { secret: 'y'.repeat(32), previousSecrets: [Buffer.from('z'.repeat(32))] }
  })).type.not.toRaiseError()
  expect(app.register(auth, { users, passwordPolicy: async () => {} })).type.not.toRaiseError()
  expect(app.register(auth, { users, passwordPolicy: 'min 12' })).type.toRaiseError()
  expect(app.register(auth, { users, passwordPolicy: (password: number) => undefined })).type.toRaiseError()
  expect(app.register(auth, { users, passwordPolicy: () => 42 })).type.toRaiseError()
  expect(app.register(auth, { users, userTokens: {} })).type.toRaiseError()
  expect(app.register(auth, { users, userTokens: { secret: 'y'.repeat(32), previousSecrets: 'old' } })).type.toRaiseError()
  expect(app.register(auth, { users, userTokens: { secret: 'y'.repeat(32), maxAge: 5 } })).type.toRaiseError()
})

test('request.changePassword', () => {
  expect(request.changePassword('old', 'new')).type.toBe<Promise<string | undefined>>()
  expect(request.changePassword('new')).type.toRaiseError()
  expect(request.changePassword('old', 42)).type.toRaiseError()
})

test('setPassword, checkNewPassword and resetPassword', () => {
  expect(app.setPassword(appUser, 'new')).type.toBe<Promise<void>>()
  expect(app.setPassword({ id: 1 }, 'new')).type.toRaiseError()
  expect(app.setPassword(appUser)).type.toRaiseError()
  expect(app.checkNewPassword('new')).type.toBe<Promise<void>>()
  expect(app.checkNewPassword('new', appUser)).type.toBe<Promise<void>>()
  expect(app.checkNewPassword('new', null)).type.not.toRaiseError()
  expect(app.checkNewPassword(42)).type.toRaiseError()
  expect(app.resetPassword('token', 'new')).type.toBe<Promise<AppUser>>()
  expect(app.resetPassword('token')).type.toRaiseError()
})

test('createUserToken and verifyUserToken', () => {
  expect(app.createUserToken(appUser, { purpose: 'password-reset', maxAge: 3_600_000 })).type.toBe<string>()
  expect(app.createUserToken(appUser, { purpose: 'verify-email' })).type.toBe<string>()
  expect(app.createUserToken(appUser, { maxAge: 1000 })).type.toRaiseError()
  expect(app.createUserToken(appUser, { purpose: 'x', maxAge: '1h' })).type.toRaiseError()
  expect(app.createUserToken({ id: 1 }, { purpose: 'x' })).type.toRaiseError()
  expect(app.verifyUserToken('token', { purpose: 'password-reset' })).type.toBe<Promise<AppUser>>()
  expect(app.verifyUserToken('token')).type.toRaiseError()
  expect(app.verifyUserToken('token', {})).type.toRaiseError()
})

test('requestPasswordReset returns nothing to await and sends with the user and token', () => {
  expect(app.requestPasswordReset('ann@example.com', {
    send: async ({ user, token, username }) => {
      expect(user).type.toBe<AppUser>()
      expect(token).type.toBe<string>()
      expect(username).type.toBe<string>()
    },
    maxAge: 60_000
  })).type.toBe<void>()
  expect(app.requestPasswordReset('ann@example.com', {})).type.toRaiseError()
  expect(app.requestPasswordReset('ann@example.com')).type.toRaiseError()
  expect(app.requestPasswordReset('ann@example.com', { send: () => {}, maxAge: '1h' })).type.toRaiseError()
})
