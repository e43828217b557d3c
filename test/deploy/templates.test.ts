/**
 * The SAM template and the Fargate stack, checked offline: parsed with CloudFormation's tags,
 * validated by @aws/cloudformation-validate (no ERROR or FATAL finding; its `status` says OK even
 * with them, so severities are counted here), the SAM resources checked against the SAM
 * specification, and the facts the deployment relies on asserted one by one.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- a parsed template is untyped JSON; the assertions are its types */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { RegoEngine, TemplateFile } from '@aws/cloudformation-validate'
import { parse as parseToml } from 'smol-toml'
import { afterAll, describe, expect, it } from 'vitest'
import { parseEnvVars } from '../../src/runtime/lambda-local.ts'
import { SECRET_VARIABLES } from '../../src/runtime/lambda-config.ts'
import { readTemplate, type Template } from './support/cfn-yaml.ts'
import { checkSamResources } from './support/sam-spec-check.ts'

const run = promisify(execFile)
const tmp = mkdtempSync(path.join(os.tmpdir(), 'resolution-templates-'))
const engine = new RegoEngine()
afterAll(() => engine.free())

interface Finding {
  severity: string
  ruleId: string
  message: string
}

function validate(file: string, parameterOverrides: Record<string, string> = {}): { status: string; serious: Finding[] } {
  const report = engine.validateStandard(new TemplateFile(file), { pseudoParameterOverrides: { region: 'us-east-1' }, parameterOverrides })
  const serious = (report.diagnostics as Finding[]).filter((d) => d.severity === 'ERROR' || d.severity === 'FATAL')
  return { status: report.status, serious: serious.map(({ severity, ruleId, message }) => ({ severity, ruleId, message })) }
}

const sam = readTemplate('template.yaml')
const fargate = readTemplate('infra/fargate.yaml')
const fn = sam.Resources.ResolutionFunction!
const fnProps = fn.Properties as Record<string, any>

function props(template: Template, id: string): Record<string, any> {
  const resource = template.Resources[id]
  if (!resource) throw new Error(`no resource ${id}`)
  return resource.Properties as Record<string, any>
}

describe('template.yaml (SAM)', () => {
  it('passes @aws/cloudformation-validate with no error-severity finding', () => {
    const { status, serious } = validate('template.yaml')
    expect(status).toBe('OK')
    expect(serious).toEqual([])
  })

  it('passes the SAM specification check', () => {
    expect(checkSamResources(sam)).toEqual([])
  })

  it('the SAM check is not a rubber stamp: it reports typos, bad values and unknown events', () => {
    const bad = readTemplate('template.yaml')
    const p = bad.Resources.ResolutionFunction!.Properties as Record<string, any>
    p.Handlr = 'index.handler'
    p.Runtime = 'nodejs99.x'
    p.Architectures = ['arm65']
    p.MemorySize = 99999
    p.Events.Proxy.Type = 'HttpApiX'
    p.Events.Root.Properties.Pth = '/'
    p.VpcConfig = { SubnetId: ['subnet-1'] }
    const problems = checkSamResources(bad).join('\n')
    for (const expected of ['Handlr: unknown property', 'nodejs99.x is not one of', 'arm65 is not one of', 'MemorySize: must be', 'unknown event type "HttpApiX"', 'Pth: unknown property', 'VpcConfig.SubnetId: unknown property', 'VpcConfig: missing required property SubnetIds']) {
      expect(problems).toContain(expected)
    }
  })

  it('the validator is not a rubber stamp either: a broken plain resource is an error', () => {
    const file = path.join(tmp, 'broken-sam.yaml')
    writeFileSync(file, readFileSync('template.yaml', 'utf8').replace('RetentionInDays: !Ref LogRetentionDays', 'RetentionInDayz: !Ref LogRetentionDays'))
    expect(validate(file).serious.length).toBeGreaterThan(0)
  })

  it('is a nodejs22.x arm64 function behind an HTTP API on $default, every path and method', () => {
    expect(sam.Transform).toBe('AWS::Serverless-2016-10-31')
    expect(sam.Globals!.Function).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] })
    expect(Number(sam.Globals!.Function!.Timeout)).toBeLessThanOrEqual(29)
    expect(fn.Type).toBe('AWS::Serverless::Function')
    expect(props(sam, 'HttpApi').StageName).toBe('$default')
    const events = Object.values(fnProps.Events as Record<string, any>)
    expect(events.map((e) => [e.Type, e.Properties.Path, e.Properties.Method, e.Properties.ApiId])).toEqual([
      ['HttpApi', '/', 'ANY', { Ref: 'HttpApi' }],
      ['HttpApi', '/{proxy+}', 'ANY', { Ref: 'HttpApi' }],
    ])
    expect(JSON.stringify(sam.Outputs!.ApiUrl!.Value)).toContain('${HttpApi}.execute-api')
  })

  it('takes every secret from Secrets Manager with a dynamic reference on the AppSecretArn parameter', () => {
    const variables = fnProps.Environment.Variables as Record<string, unknown>
    for (const name of SECRET_VARIABLES) {
      expect(variables[name]).toEqual({ 'Fn::Sub': `{{resolve:secretsmanager:\${AppSecretArn}:SecretString:${name}}}` })
    }
    expect(variables.NODE_ENV).toBe('production')
    expect(sam.Parameters!.AppSecretArn!.Type).toBe('String')
    // No secret value or account in the template itself.
    expect(readFileSync('template.yaml', 'utf8')).not.toMatch(/\b\d{12}\b/)
  })

  it('has optional VPC settings: empty lists by default, VpcConfig only when both are given', () => {
    expect(sam.Parameters!.SubnetIds).toMatchObject({ Type: 'CommaDelimitedList', Default: '' })
    expect(sam.Parameters!.SecurityGroupIds).toMatchObject({ Type: 'CommaDelimitedList', Default: '' })
    expect(fnProps.VpcConfig).toEqual({
      'Fn::If': ['UseVpc', { SubnetIds: { Ref: 'SubnetIds' }, SecurityGroupIds: { Ref: 'SecurityGroupIds' } }, { Ref: 'AWS::NoValue' }],
    })
    expect(JSON.stringify(sam.Conditions!.UseVpc)).toContain('"Ref":"SubnetIds"')
    expect(JSON.stringify(sam.Conditions!.UseVpc)).toContain('"Ref":"SecurityGroupIds"')
  })

  it('can cap concurrency (= database connections, one per execution environment); no cap by default', () => {
    expect(sam.Parameters!.ReservedConcurrency).toMatchObject({ Type: 'Number', Default: -1 })
    expect(fnProps.ReservedConcurrentExecutions).toEqual({ 'Fn::If': ['LimitConcurrency', { Ref: 'ReservedConcurrency' }, { Ref: 'AWS::NoValue' }] })
    expect(validate('template.yaml', { ReservedConcurrency: '20', SubnetIds: 'subnet-1,subnet-2', SecurityGroupIds: 'sg-1' }).serious).toEqual([])
  })

  it('every variable env.json.example sets is declared in the template (sam local only overrides declared ones)', () => {
    const example = JSON.parse(readFileSync('env.json.example', 'utf8')) as Record<string, unknown>
    const functionIds = Object.keys(example).filter((key) => key !== 'Parameters')
    expect(functionIds).toEqual(['ResolutionFunction'])
    const declared = Object.keys(fnProps.Environment.Variables)
    for (const name of Object.keys(parseEnvVars(JSON.stringify(example)))) expect(declared).toContain(name)
  })

  it('samconfig.toml: start-api on 5050 with env.json, invoke with env.json, nothing account-specific', () => {
    const text = readFileSync('samconfig.toml', 'utf8')
    const config = parseToml(text) as Record<string, any>
    expect(config.default.local_start_api.parameters).toMatchObject({ port: 5050, env_vars: 'env.json' })
    expect(config.default.local_invoke.parameters).toMatchObject({ env_vars: 'env.json' })
    expect(config.default.deploy.parameters).toMatchObject({ capabilities: 'CAPABILITY_IAM' })
    expect(text).not.toMatch(/\b\d{12}\b|arn:aws/)
  })

  it('sam build and npm run build:lambda make the same bundle: the Makefile target runs the npm build', async () => {
    expect(fn.Metadata).toEqual({ BuildMethod: 'makefile' })
    expect(fnProps.CodeUri).toBe('./')
    expect(fnProps.Handler).toBe('index.handler')
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts['build:lambda']).toBe('node scripts/build-lambda.mjs')

    // What sam build runs: make build-ResolutionFunction with ARTIFACTS_DIR set.
    const artifacts = mkdtempSync(path.join(tmp, 'artifacts-'))
    await run('make', ['--no-print-directory', 'build-ResolutionFunction', `ARTIFACTS_DIR=${artifacts}`], { timeout: 120_000 })
    const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
    const fromSam = hash(path.join(artifacts, 'index.mjs'))
    expect(fromSam).toBe(hash('dist/lambda/index.mjs'))
    // The chunks the handler loads on first use travel with it.
    const chunks = readdirSync('dist/lambda/chunks').filter((name) => name.endsWith('.mjs'))
    expect(chunks.length).toBeGreaterThan(0)
    for (const name of chunks) expect(hash(path.join(artifacts, 'chunks', name))).toBe(hash(path.join('dist/lambda/chunks', name)))
    // The build is deterministic: building again gives the same bytes.
    await run(process.execPath, ['scripts/build-lambda.mjs', '--outdir', path.join(tmp, 'again')], { timeout: 120_000 })
    expect(hash(path.join(tmp, 'again', 'index.mjs'))).toBe(fromSam)
    // Handler index.handler ↔ index.mjs exporting handler.
    expect(readFileSync(path.join(artifacts, 'index.mjs'), 'utf8')).toMatch(/export\s*\{[^}]*\bas handler\b|export\s*\{[^}]*\bhandler\b/)
  }, 180_000)
})

describe('infra/fargate.yaml (CloudFormation)', () => {
  const sizes = ['xsmall', 'small', 'medium', 'large', 'xlarge']
  const certificate = 'arn:aws:acm:us-east-1:123456789012:certificate/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6'

  // With no override the validator pairs every Cpu of the size map with every Memory; each real
  // pair is validated instead, with and without a certificate.
  it.each(sizes.flatMap((size) => [[size, ''], [size, certificate]]))('passes @aws/cloudformation-validate for TaskSize=%s, CertificateArn=%s', (size, cert) => {
    const { status, serious } = validate('infra/fargate.yaml', { TaskSize: size, CertificateArn: cert })
    expect(status).toBe('OK')
    expect(serious).toEqual([])
  })

  it('an impossible Fargate size in the map is caught', () => {
    const file = path.join(tmp, 'bad-size.yaml')
    writeFileSync(file, readFileSync('infra/fargate.yaml', 'utf8').replace(/xsmall:\n(\s+)Cpu: '256'\n(\s+)Memory: '512'/, "xsmall:\n$1Cpu: '256'\n$2Memory: '8192'"))
    expect(validate(file, { TaskSize: 'xsmall' }).serious.map((f) => f.ruleId)).toContain('E3047')
  })

  it('has the parameters of the deployment, the load balancer named GateKeeper by default', () => {
    for (const name of ['VpcId', 'PublicSubnetIds', 'TaskSubnetIds', 'CertificateArn', 'ImageUri', 'AppSecretArn', 'LoadBalancerName']) expect(fargate.Parameters).toHaveProperty(name)
    expect(fargate.Parameters!.LoadBalancerName!.Default).toBe('GateKeeper')
    expect(fargate.Parameters!.CertificateArn!.Default).toBe('')
    expect(props(fargate, 'LoadBalancer')).toMatchObject({ Name: { Ref: 'LoadBalancerName' }, Type: 'application', Scheme: 'internet-facing' })
  })

  it('HTTP redirects to HTTPS with a certificate; HTTP forwards without one', () => {
    expect(fargate.Conditions!.HasCertificate).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'CertificateArn' }, ''] }] })
    expect(fargate.Resources.HttpRedirectListener!.Condition).toBe('HasCertificate')
    expect(props(fargate, 'HttpRedirectListener')).toMatchObject({ Port: 80, Protocol: 'HTTP', DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] })
    expect(fargate.Resources.HttpsListener!.Condition).toBe('HasCertificate')
    expect(props(fargate, 'HttpsListener')).toMatchObject({ Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: { Ref: 'CertificateArn' } }], DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: 'TargetGroup' } }] })
    expect(fargate.Resources.HttpListener!.Condition).toBe('NoCertificate')
    expect(props(fargate, 'HttpListener')).toMatchObject({ Port: 80, Protocol: 'HTTP', DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: 'TargetGroup' } }] })
    expect(fargate.Resources.Service!.DependsOn).toBe('ListenerReady')
  })

  it('one target group of IP targets on 5050 checked on /health', () => {
    expect(props(fargate, 'TargetGroup')).toMatchObject({ TargetType: 'ip', Port: 5050, Protocol: 'HTTP', HealthCheckPath: '/health', Matcher: { HttpCode: '200' } })
  })

  it('the task: awsvpc Fargate, port 5050, secrets from the secret, awslogs, a node health check on /health', () => {
    const task = props(fargate, 'TaskDefinition')
    expect(task).toMatchObject({ NetworkMode: 'awsvpc', RequiresCompatibilities: ['FARGATE'], ExecutionRoleArn: { 'Fn::GetAtt': ['ExecutionRole', 'Arn'] } })
    const [container] = task.ContainerDefinitions
    expect(container.PortMappings).toEqual([{ ContainerPort: 5050, Protocol: 'tcp' }])
    expect(container.Image).toEqual({ Ref: 'ImageUri' })
    expect(container.Secrets).toEqual(SECRET_VARIABLES.map((name) => ({ Name: name, ValueFrom: { 'Fn::Sub': `\${AppSecretArn}:${name}::` } })))
    expect(container.LogConfiguration.LogDriver).toBe('awslogs')
    expect(container.HealthCheck.Command.slice(0, 2)).toEqual(['CMD', 'node'])
    expect(container.HealthCheck.Command.join(' ')).toContain('http://127.0.0.1:5050/health')
    // Nothing secret as a plain environment variable.
    for (const variable of container.Environment) expect(SECRET_VARIABLES).not.toContain(variable.Name)
    const policy = props(fargate, 'ExecutionRole').Policies[0].PolicyDocument.Statement[0]
    expect(policy).toEqual({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: 'AppSecretArn' } })
  })

  it('the service rolls back failed deployments and sits behind the target group', () => {
    const service = props(fargate, 'Service')
    expect(service.DeploymentConfiguration.DeploymentCircuitBreaker).toEqual({ Enable: true, Rollback: true })
    expect(service.LoadBalancers).toEqual([{ ContainerName: 'resolution', ContainerPort: 5050, TargetGroupArn: { Ref: 'TargetGroup' } }])
    expect(service.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups).toEqual([{ Ref: 'TaskSecurityGroup' }])
  })

  it('tasks accept traffic only from the load balancer, on 5050', () => {
    const ingress = props(fargate, 'TaskSecurityGroup').SecurityGroupIngress
    expect(ingress).toEqual([{ IpProtocol: 'tcp', FromPort: 5050, ToPort: 5050, SourceSecurityGroupId: { Ref: 'LoadBalancerSecurityGroup' }, Description: 'From the load balancer only' }])
    expect(props(fargate, 'LoadBalancer').SecurityGroups).toEqual([{ Ref: 'LoadBalancerSecurityGroup' }])
  })

  it('scales on CPU and on requests per target', () => {
    const metrics = Object.values(fargate.Resources)
      .filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy')
      .map((r) => (r.Properties as any).TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType)
    expect(metrics.sort()).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization'])
    expect(props(fargate, 'ScalableTarget')).toMatchObject({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount' })
  })

  it('holds nothing account-specific', () => {
    expect(readFileSync('infra/fargate.yaml', 'utf8')).not.toMatch(/\b\d{12}\b(?!\})/)
  })
})

describe('storage bucket in both stacks', () => {
  // ListMultipartUploadParts and ListBucketMultipartUploads: resumable (tus) uploads read their parts and expire stale ones.
  const objectActions = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']
  const bucketActions = ['s3:ListBucket', 's3:ListBucketMultipartUploads']

  it.each([
    ['template.yaml', sam],
    ['infra/fargate.yaml', fargate],
  ] as const)('%s: a private, encrypted, retained bucket', (_name, template) => {
    const bucket = template.Resources.StorageBucket!
    expect(bucket.Type).toBe('AWS::S3::Bucket')
    expect((bucket as Record<string, unknown>).DeletionPolicy).toBe('Retain')
    expect(props(template, 'StorageBucket').PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true })
    expect(props(template, 'StorageBucket').BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256')
  })

  it('the function uses it with object permissions on that bucket only', () => {
    expect(fnProps.Environment.Variables).toMatchObject({ STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: { Ref: 'StorageBucket' }, STORAGE_S3_REGION: { Ref: 'AWS::Region' } })
    const statements = fnProps.Policies[0].Statement
    expect(statements).toEqual([
      { Effect: 'Allow', Action: objectActions, Resource: { 'Fn::Sub': '${StorageBucket.Arn}/*' } },
      { Effect: 'Allow', Action: bucketActions, Resource: { 'Fn::GetAtt': ['StorageBucket', 'Arn'] } },
    ])
  })

  it('the Fargate task role, and only it, may use the bucket; the container is pointed at it', () => {
    const statements = props(fargate, 'TaskRole').Policies[0].PolicyDocument.Statement
    expect(statements[0]).toEqual({ Effect: 'Allow', Action: objectActions, Resource: { 'Fn::Sub': '${StorageBucket.Arn}/*' } })
    expect(JSON.stringify(props(fargate, 'ExecutionRole'))).not.toContain('StorageBucket')
    const environment = props(fargate, 'TaskDefinition').ContainerDefinitions[0].Environment as Array<{ Name: string; Value: unknown }>
    expect(Object.fromEntries(environment.map((e) => [e.Name, e.Value]))).toMatchObject({ STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: { Ref: 'StorageBucket' } })
  })
})
