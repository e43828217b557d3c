/**
 * Production mail and URLs are part of the deploy (issue 13 §4): both templates carry SMTP_URL as
 * a secret and SITE_URL / API_EXTERNAL_URL / AUTH_AUTOCONFIRM as parameters, and the environment
 * they produce passes or fails the same start-up rule the service applies.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- a parsed template is untyped JSON; the assertions are its types */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readTemplate } from './support/cfn-yaml.ts'
import { loadLambdaConfig } from '../../src/runtime/lambda-config.ts'
import { FatalError } from '../../src/errors.ts'

const sam = readTemplate('template.yaml')
const fargate = readTemplate('infra/fargate.yaml')
const variables = (sam.Resources.ResolutionFunction!.Properties as Record<string, any>).Environment.Variables as Record<string, unknown>
const container = (fargate.Resources.TaskDefinition!.Properties as Record<string, any>).ContainerDefinitions[0]
const fargateEnv = Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((v) => [v.Name, v.Value]))

/** What the function would see for these secret values and parameters (as CloudFormation resolves it). */
function deployedEnv(secret: Record<string, string>, parameters: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NODE_ENV: 'production' }
  for (const [name, value] of Object.entries(variables)) {
    const text = JSON.stringify(value)
    const secretKey = /SecretString:([A-Z_]+)\}\}/.exec(text)?.[1]
    if (secretKey) env[name] = secret[secretKey] ?? ''
    else if (typeof value === 'object' && value && 'Ref' in value) {
      const ref = (value as { Ref: string }).Ref
      // A resource's Ref is its physical name; a pseudo parameter its deployed value.
      if (sam.Resources[ref]) env[name] = `${ref.toLowerCase()}-physical-name`
      else if (ref === 'AWS::Region') env[name] = 'eu-west-1'
      else env[name] = parameters[ref] ?? String(sam.Parameters![ref]?.Default ?? '')
    }
    else if (typeof value === 'object' && value && 'Fn::If' in value) {
      const [, then] = (value as { 'Fn::If': [string, { Ref: string }, unknown] })['Fn::If']
      if (parameters[then.Ref]) env[name] = parameters[then.Ref]!
    } else if (typeof value === 'string') env[name] = value
  }
  return env
}

const SECRET = { DATABASE_URL: 'postgres://app:pw@db.example.com:5432/postgres', JWT_SECRET: 'j'.repeat(40), ANON_KEY: 'a.b.c', SERVICE_ROLE_KEY: 'd.e.f', VAULT_ROOT_KEY: 'ab'.repeat(32) }
const SES = 'smtps://AKIAEXAMPLE:pass%2Fword@email-smtp.eu-west-1.amazonaws.com:465'

function failure(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(FatalError)
    return (error as Error).message
  }
  return ''
}

describe('mail and URLs in the templates', () => {
  it('SAM: SMTP_URL comes from the secret; SITE_URL, API_EXTERNAL_URL, AUTH_AUTOCONFIRM and the sender are parameters', () => {
    expect(variables.SMTP_URL).toEqual({ 'Fn::Sub': '{{resolve:secretsmanager:${AppSecretArn}:SecretString:SMTP_URL}}' })
    expect(variables.SITE_URL).toEqual({ Ref: 'SiteUrl' })
    expect(variables.API_EXTERNAL_URL).toEqual({ 'Fn::If': ['HasApiExternalUrl', { Ref: 'ApiExternalUrl' }, { Ref: 'AWS::NoValue' }] })
    expect(variables.AUTH_AUTOCONFIRM).toEqual({ Ref: 'AuthAutoconfirm' })
    expect(variables.SMTP_ADMIN_EMAIL).toEqual({ Ref: 'MailFrom' })
    // SiteUrl has no default: a deploy must say where users come back to.
    expect(sam.Parameters!.SiteUrl).not.toHaveProperty('Default')
    expect(sam.Parameters!.AuthAutoconfirm).toMatchObject({ Default: 'false', AllowedValues: ['true', 'false'] })
  })

  it('Fargate: the same, with API_EXTERNAL_URL falling back to the load balancer (https with a certificate)', () => {
    expect(container.Secrets).toContainEqual({ Name: 'SMTP_URL', ValueFrom: { 'Fn::Sub': '${AppSecretArn}:SMTP_URL::' } })
    expect(fargateEnv.SITE_URL).toEqual({ Ref: 'SiteUrl' })
    expect(fargateEnv.AUTH_AUTOCONFIRM).toEqual({ Ref: 'AuthAutoconfirm' })
    expect(fargateEnv.SMTP_ADMIN_EMAIL).toEqual({ Ref: 'MailFrom' })
    expect(JSON.stringify(fargateEnv.API_EXTERNAL_URL)).toContain('${Scheme}://${LoadBalancer.DNSName}/auth/v1')
    expect(fargate.Parameters!.SiteUrl).not.toHaveProperty('Default')
    expect(fargate.Parameters!.AuthAutoconfirm).toMatchObject({ Default: 'false' })
  })

  it('the deployed environment passes the start-up rule only with mail configured or autoconfirm on', () => {
    const site = { SiteUrl: 'https://app.example.com' }
    // Defaults: confirmation on, the secret's SMTP_URL empty → refused at INIT, naming SMTP_URL.
    expect(failure(() => loadLambdaConfig(deployedEnv({ ...SECRET, SMTP_URL: '' }, site)))).toMatch(/^SMTP_URL: is required in production/)
    // SES SMTP without the public URL: the links would have nowhere to point.
    expect(failure(() => loadLambdaConfig(deployedEnv({ ...SECRET, SMTP_URL: SES }, site)))).toMatch(/^API_EXTERNAL_URL: is required/)
    const config = loadLambdaConfig(deployedEnv({ ...SECRET, SMTP_URL: SES }, { ...site, ApiExternalUrl: 'https://api.example.com/auth/v1', MailFrom: 'no-reply@example.com' }))
    expect(config).toMatchObject({ smtpUrl: SES, siteUrl: 'https://app.example.com', authAutoconfirm: false })
    expect(config.auth).toMatchObject({ externalUrl: 'https://api.example.com/auth/v1', smtpAdminEmail: 'no-reply@example.com' })
    // No mail at all, deliberately.
    expect(loadLambdaConfig(deployedEnv({ ...SECRET, SMTP_URL: '' }, { ...site, AuthAutoconfirm: 'true' })).authAutoconfirm).toBe(true)
  })

  it('docs/deploy.md and the EC2 example carry the settings, with SES SMTP as the AWS example', () => {
    const docs = readFileSync('docs/deploy.md', 'utf8')
    for (const word of ['SMTP_URL', 'SITE_URL', 'API_EXTERNAL_URL', 'AUTH_AUTOCONFIRM', 'email-smtp.', 'SiteUrl', 'ApiExternalUrl']) expect(docs).toContain(word)
    const ec2 = readFileSync('infra/ec2/.env.example', 'utf8')
    for (const word of ['SMTP_URL=smtps://', 'API_EXTERNAL_URL=https://', 'SITE_URL=https://']) expect(ec2).toContain(word)
  })
})
