/**
 * With SMTP_URL set, auth mail goes out over SMTP (nodemailer) instead of the outbox: a minimal
 * SMTP sink on a local port receives the confirmation mail with the OTP and the verify link.
 */
import net from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

interface Received {
  from: string
  to: string[]
  data: string
}

/** Just enough SMTP for nodemailer: greeting, EHLO, MAIL, RCPT, DATA, QUIT. */
function smtpSink(): Promise<{ port: number; messages: Received[]; close: () => Promise<void> }> {
  const messages: Received[] = []
  const server = net.createServer((socket) => {
    let buffer = ''
    let inData = false
    let current: Received = { from: '', to: [], data: '' }
    socket.write('220 sink ESMTP\r\n')
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n')
          if (end < 0) return
          current.data = buffer.slice(0, end)
          buffer = buffer.slice(end + 5)
          inData = false
          messages.push(current)
          current = { from: '', to: [], data: '' }
          socket.write('250 OK queued\r\n')
          continue
        }
        const eol = buffer.indexOf('\r\n')
        if (eol < 0) return
        const line = buffer.slice(0, eol)
        buffer = buffer.slice(eol + 2)
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250-sink\r\n250 8BITMIME\r\n')
        else if (verb === 'MAIL') {
          current.from = line
          socket.write('250 OK\r\n')
        } else if (verb === 'RCPT') {
          current.to.push(line)
          socket.write('250 OK\r\n')
        } else if (verb === 'DATA') {
          inData = true
          socket.write('354 go ahead\r\n')
        }
        else if (verb === 'QUIT') socket.end('221 bye\r\n')
        else socket.write('250 OK\r\n')
      }
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({ port, messages, close: () => new Promise((r) => server.close(() => r())) })
    })
  })
}

describeEachDatabase('auth mail over SMTP', (ctx) => {
  let h: AuthHarness
  let sink: Awaited<ReturnType<typeof smtpSink>>
  beforeAll(async () => {
    sink = await smtpSink()
    h = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false', SMTP_URL: `smtp://127.0.0.1:${sink.port}?ignoreTLS=true`, SMTP_ADMIN_EMAIL: 'auth@example.com' })
  }, 60_000)
  afterAll(async () => {
    await h?.close()
    await sink?.close()
  })

  it('sends the confirmation over SMTP with the OTP and link, and writes nothing to the outbox', async () => {
    const email = uniqueEmail('smtp')
    const { error } = await h.client().auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    expect(sink.messages).toHaveLength(1)
    const mail = sink.messages[0]!
    expect(mail.from).toContain('auth@example.com')
    expect(mail.to.join()).toContain(email)
    expect(mail.data).toContain('Subject: Confirm Your Signup')
    // quoted-printable: drop soft line breaks, decode =XX
    const text = mail.data.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    expect(text).toContain('/auth/v1/verify?token=')
    const otp = /enter the code: (\d{6})/.exec(text)?.[1]
    expect(otp).toBeTruthy()
    const outbox = await ctx().database.query<{ n: number }>(`SELECT count(*)::int AS n FROM _resolution.auth_outbox`)
    expect(outbox.rows[0]!.n).toBe(0) // with SMTP, nothing goes to the development outbox
    const verified = await h.client().auth.verifyOtp({ email, token: otp!, type: 'signup' })
    expect(verified.error).toBeNull()
  })
})
