/**
 * Checks the `AWS::Serverless::*` resources of a SAM template against the SAM part of the
 * CloudFormation resource specification (vendored in fixtures/sam-spec.json from the npm package
 * @aws-cdk/cfnspec): property names, required properties, primitive and structured types, event
 * types. `@aws/cloudformation-validate` does not look inside SAM resources; this fills that gap.
 * The specification has no value lists, so runtimes, architectures and sizes are checked against
 * Lambda's documented values here.
 */
import { readFileSync } from 'node:fs'
import type { Template } from './cfn-yaml.ts'

interface PropertySpec {
  Required?: boolean
  PrimitiveType?: string
  PrimitiveTypes?: string[]
  Type?: string
  Types?: string[]
  ItemType?: string
  ItemTypes?: string[]
  PrimitiveItemType?: string
  PrimitiveItemTypes?: string[]
  InclusiveItemTypes?: string[]
  InclusivePrimitiveItemTypes?: string[]
}

interface Spec {
  ResourceTypes: Record<string, { Properties: Record<string, PropertySpec> }>
  PropertyTypes: Record<string, { Properties?: Record<string, PropertySpec> } & PropertySpec>
}

const spec = JSON.parse(readFileSync(new URL('../fixtures/sam-spec.json', import.meta.url), 'utf8')) as Spec

export const LAMBDA_RUNTIMES = ['nodejs20.x', 'nodejs22.x', 'nodejs24.x']
export const LAMBDA_ARCHITECTURES = ['x86_64', 'arm64']

type Problems = string[]

function isIntrinsic(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const keys = Object.keys(value)
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))
}

function checkPrimitive(type: string, value: unknown): boolean {
  if (isIntrinsic(value)) return true
  switch (type) {
    case 'String':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    case 'Integer':
    case 'Long':
      return (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))
    case 'Double':
      return typeof value === 'number' || (typeof value === 'string' && !Number.isNaN(Number(value)))
    case 'Boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false'
    case 'Json':
      return typeof value === 'object' || typeof value === 'string'
    default:
      return true
  }
}

/** Both branches of `Fn::If` are checked; `AWS::NoValue` is always acceptable. */
function branches(value: unknown): unknown[] {
  if (isIntrinsic(value) && 'Fn::If' in value && Array.isArray(value['Fn::If'])) {
    const [, yes, no] = value['Fn::If'] as unknown[]
    return [...branches(yes), ...branches(no)]
  }
  if (isIntrinsic(value) && value.Ref === 'AWS::NoValue') return []
  return [value]
}

function checkStruct(resourceType: string, typeName: string, value: unknown, where: string, problems: Problems): boolean {
  const propertyType = spec.PropertyTypes[`${resourceType}.${typeName}`]
  if (!propertyType) {
    problems.push(`${where}: the specification has no type ${typeName}`)
    return false
  }
  if (isIntrinsic(value)) return true
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  if (!propertyType.Properties) return true
  checkProperties(resourceType, propertyType.Properties, value as Record<string, unknown>, where, problems)
  return true
}

function matchesAny(resourceType: string, property: PropertySpec, value: unknown, where: string, problems: Problems): boolean {
  if (isIntrinsic(value)) return true
  const primitives = [property.PrimitiveType, ...(property.PrimitiveTypes ?? [])].filter(Boolean) as string[]
  if (primitives.some((type) => checkPrimitive(type, value) && (typeof value !== 'object' || type === 'Json'))) return true
  const itemPrimitives = [property.PrimitiveItemType, ...(property.PrimitiveItemTypes ?? []), ...(property.InclusivePrimitiveItemTypes ?? [])].filter(Boolean) as string[]
  const itemTypes = [property.ItemType, ...(property.ItemTypes ?? []), ...(property.InclusiveItemTypes ?? [])].filter(Boolean) as string[]
  const checkItem = (item: unknown, itemWhere: string) => {
    if (isIntrinsic(item)) return true
    if (itemPrimitives.some((type) => checkPrimitive(type, item) && typeof item !== 'object')) return true
    const scratch: Problems = []
    for (const type of itemTypes) {
      const before = scratch.length
      if (checkStruct(resourceType, type, item, itemWhere, scratch) && scratch.length === before) return true
    }
    problems.push(`${itemWhere}: expected ${[...itemPrimitives, ...itemTypes].join(' or ')}`)
    return true
  }
  if (property.Type === 'List') {
    if (!Array.isArray(value)) return false
    value.forEach((item, i) => branches(item).forEach((b) => checkItem(b, `${where}[${i}]`)))
    return true
  }
  if (property.Type === 'Map') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
    for (const [key, item] of Object.entries(value)) branches(item).forEach((b) => checkItem(b, `${where}.${key}`))
    return true
  }
  const structs = [property.Type, ...(property.Types ?? [])].filter((t): t is string => Boolean(t) && t !== 'List' && t !== 'Map')
  for (const type of structs) {
    const scratch: Problems = []
    if (checkStruct(resourceType, type, value, where, scratch)) {
      if (scratch.length === 0 || structs.length === 1) {
        problems.push(...scratch)
        return true
      }
    }
  }
  // A list is also allowed where the spec has inclusive item types (Policies: a string or a list).
  if (Array.isArray(value) && (itemPrimitives.length || itemTypes.length)) {
    value.forEach((item, i) => branches(item).forEach((b) => checkItem(b, `${where}[${i}]`)))
    return true
  }
  return false
}

function checkEvent(value: unknown, where: string, problems: Problems): void {
  if (typeof value !== 'object' || value === null) return void problems.push(`${where}: must be an object`)
  const event = value as { Type?: unknown; Properties?: unknown }
  const allowed = spec.PropertyTypes['AWS::Serverless::Function.EventSource']!.Properties!.Properties!.Types!
  const typeName = `${String(event.Type)}Event`
  if (!allowed.includes(typeName)) return void problems.push(`${where}.Type: unknown event type ${JSON.stringify(event.Type)}`)
  for (const key of Object.keys(event)) if (key !== 'Type' && key !== 'Properties') problems.push(`${where}: unknown key ${key}`)
  checkStruct('AWS::Serverless::Function', typeName, event.Properties ?? {}, `${where}.Properties`, problems)
}

function checkProperties(resourceType: string, specs: Record<string, PropertySpec>, properties: Record<string, unknown>, where: string, problems: Problems): void {
  for (const [name, property] of Object.entries(specs)) {
    if (property.Required && !(name in properties)) problems.push(`${where}: missing required property ${name}`)
  }
  for (const [name, value] of Object.entries(properties)) {
    const property = specs[name]
    const at = `${where}.${name}`
    if (!property) {
      problems.push(`${at}: unknown property (known: ${Object.keys(specs).join(', ')})`)
      continue
    }
    if (resourceType === 'AWS::Serverless::Function' && name === 'Events' && !isIntrinsic(value)) {
      for (const [eventName, event] of Object.entries(value as Record<string, unknown>)) checkEvent(event, `${at}.${eventName}`, problems)
      continue
    }
    for (const branch of branches(value)) {
      if (!matchesAny(resourceType, property, branch, at, problems)) problems.push(`${at}: wrong type ${JSON.stringify(branch)?.slice(0, 80)}`)
    }
  }
}

function checkLambdaValues(properties: Record<string, unknown>, where: string, problems: Problems): void {
  const { Runtime, Architectures, MemorySize, Timeout } = properties
  if (Runtime !== undefined && !isIntrinsic(Runtime) && !LAMBDA_RUNTIMES.includes(String(Runtime))) problems.push(`${where}.Runtime: ${String(Runtime)} is not one of ${LAMBDA_RUNTIMES.join(', ')}`)
  if (Array.isArray(Architectures)) {
    if (Architectures.length !== 1) problems.push(`${where}.Architectures: must hold exactly one architecture`)
    for (const a of Architectures) if (!isIntrinsic(a) && !LAMBDA_ARCHITECTURES.includes(String(a))) problems.push(`${where}.Architectures: ${String(a)} is not one of ${LAMBDA_ARCHITECTURES.join(', ')}`)
  }
  if (MemorySize !== undefined && !isIntrinsic(MemorySize) && !(Number(MemorySize) >= 128 && Number(MemorySize) <= 10240)) problems.push(`${where}.MemorySize: must be 128–10240 MB`)
  if (Timeout !== undefined && !isIntrinsic(Timeout) && !(Number(Timeout) >= 1 && Number(Timeout) <= 900)) problems.push(`${where}.Timeout: must be 1–900 s`)
}

/** Every problem found, as `Resources.<id>.<path>: <what>`; empty when the template is clean. */
export function checkSamResources(template: Template): string[] {
  const problems: Problems = []
  const globals = template.Globals ?? {}
  for (const [section, values] of Object.entries(globals)) {
    const resourceType = `AWS::Serverless::${section}`
    const resourceSpec = spec.ResourceTypes[resourceType]
    if (!resourceSpec) {
      problems.push(`Globals.${section}: not a SAM resource type`)
      continue
    }
    const optional = Object.fromEntries(Object.entries(resourceSpec.Properties).map(([k, v]) => [k, { ...v, Required: false }]))
    checkProperties(resourceType, optional, values, `Globals.${section}`, problems)
    if (section === 'Function') checkLambdaValues(values, `Globals.${section}`, problems)
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (!resource.Type.startsWith('AWS::Serverless::')) continue
    const resourceSpec = spec.ResourceTypes[resource.Type]
    if (!resourceSpec) {
      problems.push(`Resources.${id}: unknown SAM type ${resource.Type}`)
      continue
    }
    const section = resource.Type.slice('AWS::Serverless::'.length)
    const merged = { ...(globals[section] ?? {}), ...(resource.Properties ?? {}) }
    checkProperties(resource.Type, resourceSpec.Properties, resource.Properties ?? {}, `Resources.${id}`, problems)
    if (resource.Type === 'AWS::Serverless::Function') {
      checkLambdaValues(resource.Properties ?? {}, `Resources.${id}`, problems)
      if (!merged.Runtime) problems.push(`Resources.${id}: no Runtime (neither here nor in Globals.Function)`)
      if (!merged.Handler && merged.PackageType !== 'Image') problems.push(`Resources.${id}: no Handler`)
    }
  }
  return problems
}
