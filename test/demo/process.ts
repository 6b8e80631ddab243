import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'

/** `npm run demo` without its build step: the tests run after `npm run build`. */
export const DEMO_SERVER = join(__dirname, '..', '..', 'examples', 'demo', 'server.js')

export interface RunningDemo {
  url: string
  child: ChildProcess
  output (): string
}

/**
 * Starts examples/demo/server.js as `npm run demo` does, on a free port of 127.0.0.1, and resolves once it has printed
 * its address and credentials. The process is stopped (SIGTERM, as Ctrl-C would) when the test ends.
 */
export async function startDemo (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<RunningDemo> {
  // No HOST: the demo's default, 127.0.0.1, is the one wanted.
  const { HOST: _host, ...inherited } = process.env
  const child = spawn(process.execPath, [DEMO_SERVER], {
    env: { ...inherited, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  })

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start within 60 s:\n${output}`)), 60_000)
    const onData = (): void => {
      // The credentials are the last line the demo prints once it listens.
      const address = /listening on (http:\/\/\S+)[^]*Sign in as .*\n/.exec(output)?.[1]
      if (address === undefined) return
      clearTimeout(timer)
      child.off('exit', onExit)
      resolve(address)
    }
    const onExit = (code: number | null): void => {
      clearTimeout(timer)
      reject(new Error(`the demo exited with ${code}:\n${output}`))
    }
    child.stdout.on('data', onData)
    child.once('exit', onExit)
  })
  return { url, child, output: () => output }
}
