/**
 * A software WebAuthn authenticator (ES256, `none` attestation) for the passkey and WebAuthn MFA
 * suites: it answers creation and request options the way a browser + security key would, and
 * can be told to lie (another origin, a broken signature) so the server's checks are exercised.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'

type Cbor = number | string | Uint8Array | Map<number | string, Cbor>

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length])
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length])
  const out = Buffer.alloc(3)
  out[0] = (major << 5) | 25
  out.writeUInt16BE(length, 1)
  return out
}

/** The CBOR subset attestation objects and COSE keys need (integers, strings, bytes, maps). */
function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -value - 1)
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)])
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)])
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])])
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
const FLAGS_UP_UV = 0x01 | 0x04
const FLAG_AT = 0x40

export interface CreationOptions {
  challenge: string
  rp: { id?: string }
  user: { id: string }
}
export interface RequestOptions {
  challenge: string
  rpId?: string
  allowCredentials?: Array<{ id: string }>
}

export class SoftwareAuthenticator {
  readonly credentialId = randomBytes(32)
  private readonly key: KeyObject
  private readonly cosePublicKey: Buffer
  private userHandle: string | undefined
  private counter = 0

  constructor(
    private readonly rpId: string,
    private readonly origin: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.key = privateKey
    const jwk = publicKey.export({ format: 'jwk' })
    this.cosePublicKey = cbor(
      new Map<number, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    )
  }

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
  }

  private rpIdHash(): Buffer {
    return createHash('sha256').update(this.rpId).digest()
  }

  /** navigator.credentials.create(); `origin` overrides the page's origin (a phishing page). */
  create(options: CreationOptions, lie: { origin?: string } = {}) {
    this.userHandle = options.user.id
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(this.credentialId.length)
    const authData = Buffer.concat([this.rpIdHash(), Buffer.from([FLAGS_UP_UV | FLAG_AT]), Buffer.alloc(4), Buffer.alloc(16), idLength, this.credentialId, this.cosePublicKey])
    const attestationObject = cbor(
      new Map<string, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    )
    return {
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key' as const,
      response: {
        attestationObject: b64url(attestationObject),
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, lie.origin ?? this.origin)),
        transports: ['usb'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform' as const,
    }
  }

  /** navigator.credentials.get(); `breakSignature` flips a bit of the signed data. */
  get(options: RequestOptions, lie: { origin?: string; breakSignature?: boolean; userHandle?: string } = {}) {
    this.counter += 1
    const count = Buffer.alloc(4)
    count.writeUInt32BE(this.counter)
    const authData = Buffer.concat([this.rpIdHash(), Buffer.from([FLAGS_UP_UV]), count])
    const clientData = this.clientData('webauthn.get', options.challenge, lie.origin ?? this.origin)
    const signed = Buffer.concat([authData, createHash('sha256').update(clientData).digest()])
    if (lie.breakSignature) signed[0]! ^= 1
    const signature = createSign('SHA256').update(signed).sign(this.key)
    return {
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key' as const,
      response: {
        authenticatorData: b64url(authData),
        clientDataJSON: b64url(clientData),
        signature: b64url(signature),
        userHandle: lie.userHandle ?? this.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform' as const,
    }
  }
}

/** The user handle GoTrue puts in creation options: the user id's text, base64url. */
export const handleOf = (userId: string) => Buffer.from(userId).toString('base64url')
